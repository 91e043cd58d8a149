//! Batches: several programs proven by one run of the batch program
//! (`prover/cairo/batch.cairo`), so that small jobs share one proof instead of paying the
//! per-proof floor each.
//!
//! The batch program's output is `[n_tasks, (task_hash, output_len, output...) per task]`,
//! where `task_hash = poseidon(main, poseidon_hash_many(code))` ([`task_hash`]) is computed in
//! Cairo over the very memory cells that then run. A proof of the batch program with this
//! output therefore says: code with this hash, started at `main`, output this. Tasks are
//! `--proof_mode` programs declaring the eleven builtins; each one reads its own input
//! through the usual `read_input` hint.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use cairo_vm::hint_processor::builtin_hint_processor::builtin_hint_processor_definition::{
    BuiltinHintProcessor, HintFunc, HintProcessorData,
};
use cairo_vm::hint_processor::builtin_hint_processor::hint_utils::insert_value_from_var_name;
use cairo_vm::hint_processor::hint_processor_definition::{
    HintExtension, HintProcessorLogic, HintReference,
};
use cairo_vm::serde::deserialize_program::{ApTracking, HintParams};
use cairo_vm::types::exec_scope::ExecutionScopes;
use cairo_vm::types::relocatable::MaybeRelocatable;
use cairo_vm::vm::errors::hint_errors::HintError;
use cairo_vm::vm::errors::vm_errors::VirtualMachineError;
use cairo_vm::vm::runners::cairo_runner::{ResourceTracker, RunResources};
use cairo_vm::vm::vm_core::VirtualMachine;
use starknet_types_core::felt::Felt;
use starknet_types_core::hash::{Poseidon, StarkHash};

use crate::error::{ExecuteError, ProgramError};
use crate::execute::{execute_with, Execution, ExecutionLimits};
use crate::input::{ProgramInput, INPUT_HINT};
use crate::program::CairoProgram;

/// The compiled batch program.
pub const BATCH_PROGRAM_JSON: &[u8] = include_bytes!("../cairo/batch.json");

/// The batch program's only own hint.
const LOAD_TASKS_HINT: &str = "ids.n_tasks, ids.tasks = starfarm_load_batch_tasks()";

/// The batch program (small: parsing it takes well under a millisecond).
pub fn batch_program() -> Result<CairoProgram, ProgramError> {
    CairoProgram::from_json(BATCH_PROGRAM_JSON, "batch program")
}

/// One program run of a batch.
#[derive(Clone, Copy)]
pub struct BatchTask<'a> {
    pub program: &'a CairoProgram,
    pub input: &'a ProgramInput,
}

/// What the batch output says about one task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskOutput {
    pub task_hash: Felt,
    pub output: Vec<Felt>,
}

/// The name a batch gives `program`: `poseidon(main, poseidon_hash_many(code))`.
pub fn task_hash(program: &CairoProgram) -> Felt {
    let code: Vec<Felt> = program
        .vm_program()
        .iter_data()
        .filter_map(|cell| match cell {
            MaybeRelocatable::Int(felt) => Some(*felt),
            MaybeRelocatable::RelocatableValue(_) => None,
        })
        .collect();
    Poseidon::hash(&Felt::from(program.main()), &Poseidon::hash_array(&code))
}

/// Splits a batch program's output into its tasks' outputs.
pub fn parse_batch_output(output: &[Felt]) -> Result<Vec<TaskOutput>, String> {
    let (count, mut rest) = output.split_first().ok_or("the batch output is empty")?;
    let count = usize::try_from(count.to_biguint()).map_err(|_| "bad task count")?;
    let mut tasks = Vec::with_capacity(count.min(rest.len()));
    for index in 0..count {
        let [task_hash, len, tail @ ..] = rest else {
            return Err(format!("the output ends inside task {index}'s header"));
        };
        let len = usize::try_from(len.to_biguint())
            .ok()
            .filter(|len| *len <= tail.len())
            .ok_or_else(|| format!("task {index}'s output length {len} overruns the output"))?;
        tasks.push(TaskOutput {
            task_hash: *task_hash,
            output: tail[..len].to_vec(),
        });
        rest = &tail[len..];
    }
    if !rest.is_empty() {
        return Err(format!("{} felts after the last task", rest.len()));
    }
    Ok(tasks)
}

/// Runs the batch program over `tasks`, in order.
pub fn execute_batch(
    tasks: &[BatchTask<'_>],
    limits: ExecutionLimits,
) -> Result<Execution, ExecuteError> {
    let program = batch_program().map_err(|e| ExecuteError::Failed(e.to_string()))?;
    let max_steps = usize::try_from(limits.max_steps).unwrap_or(usize::MAX);
    let mut hints = BatchHints {
        builtin: BuiltinHintProcessor::new(Default::default(), RunResources::new(max_steps)),
        tasks: tasks.iter().map(TaskCode::new).collect(),
        task_of_segment: HashMap::new(),
    };
    execute_with(&program, &mut hints, limits)
}

/// A task as the loading hint needs it.
struct TaskCode {
    code: Vec<MaybeRelocatable>,
    main: u64,
    hints: BTreeMap<usize, Vec<HintParams>>,
    references: Vec<HintReference>,
    constants: Arc<HashMap<String, Felt>>,
    input: Rc<HintFunc>,
}

impl TaskCode {
    fn new(task: &BatchTask<'_>) -> Self {
        let program = task.program.vm_program();
        Self {
            code: program.iter_data().cloned().collect(),
            main: task.program.main(),
            hints: (&program.shared_program_data.hints_collection).into(),
            references: program.shared_program_data.reference_manager.clone(),
            constants: Arc::clone(&program.constants),
            input: task.input.hint(),
        }
    }
}

/// cairo-vm's hints plus the batch's: loading the tasks (and their hints), and each task's
/// own input.
struct BatchHints {
    builtin: BuiltinHintProcessor,
    tasks: Vec<TaskCode>,
    /// The segment each task's code was loaded into: tells whose `read_input` runs.
    task_of_segment: HashMap<isize, usize>,
}

impl BatchHints {
    /// Loads every task's code into its own segment, fills the `Task` table, and registers
    /// each task's hints at their loaded addresses.
    fn load_tasks(
        &mut self,
        vm: &mut VirtualMachine,
        data: &HintProcessorData,
    ) -> Result<HintExtension, HintError> {
        let table = vm.add_memory_segment();
        let mut extension = HintExtension::new();
        for (index, task) in self.tasks.iter().enumerate() {
            let code = vm.add_memory_segment();
            vm.load_data(code, &task.code)?;
            self.task_of_segment.insert(code.segment_index, index);
            let row: [MaybeRelocatable; 3] = [
                code.into(),
                Felt::from(task.code.len()).into(),
                Felt::from(task.main).into(),
            ];
            vm.load_data((table + 3 * index)?, &row)?;
            for (pc, hints) in &task.hints {
                let compiled = hints
                    .iter()
                    .map(|hint| self.compile_task_hint(task, hint))
                    .collect::<Result<Vec<_>, _>>()?;
                extension.insert((code + *pc)?, compiled);
            }
        }
        let count = Felt::from(self.tasks.len());
        insert_value_from_var_name("n_tasks", count, vm, &data.ids_data, &data.ap_tracking)?;
        insert_value_from_var_name("tasks", table, vm, &data.ids_data, &data.ap_tracking)?;
        Ok(extension)
    }

    fn compile_task_hint(
        &self,
        task: &TaskCode,
        hint: &HintParams,
    ) -> Result<Box<dyn std::any::Any>, VirtualMachineError> {
        self.builtin.compile_hint(
            &hint.code,
            &hint.flow_tracking_data.ap_tracking,
            &hint.flow_tracking_data.reference_ids,
            &task.references,
            &hint.accessible_scopes,
            Arc::clone(&task.constants),
        )
    }

    /// `read_input` inside a task: that task's input.
    fn task_input(
        &self,
        vm: &mut VirtualMachine,
        scopes: &mut ExecutionScopes,
        data: &HintProcessorData,
    ) -> Result<(), HintError> {
        let segment = vm.get_pc().segment_index;
        let task = self
            .task_of_segment
            .get(&segment)
            .and_then(|index| self.tasks.get(*index))
            .ok_or_else(|| HintError::CustomHint("read_input outside of a batch task".into()))?;
        (task.input.0)(
            vm,
            scopes,
            &data.ids_data,
            &data.ap_tracking,
            &data.constants,
        )
    }
}

impl HintProcessorLogic for BatchHints {
    fn execute_hint(
        &mut self,
        vm: &mut VirtualMachine,
        scopes: &mut ExecutionScopes,
        hint_data: &Box<dyn std::any::Any>,
    ) -> Result<(), HintError> {
        self.builtin.execute_hint(vm, scopes, hint_data)
    }

    fn compile_hint(
        &self,
        code: &str,
        ap_tracking: &ApTracking,
        reference_ids: &HashMap<String, usize>,
        references: &[HintReference],
        accessible_scopes: &[String],
        constants: Arc<HashMap<String, Felt>>,
    ) -> Result<Box<dyn std::any::Any>, VirtualMachineError> {
        self.builtin.compile_hint(
            code,
            ap_tracking,
            reference_ids,
            references,
            accessible_scopes,
            constants,
        )
    }

    fn execute_hint_extensive(
        &mut self,
        vm: &mut VirtualMachine,
        scopes: &mut ExecutionScopes,
        hint_data: &Box<dyn std::any::Any>,
    ) -> Result<HintExtension, HintError> {
        let data = hint_data
            .downcast_ref::<HintProcessorData>()
            .ok_or(HintError::WrongHintData)?;
        match data.code.as_str() {
            LOAD_TASKS_HINT => self.load_tasks(vm, data),
            INPUT_HINT => {
                self.task_input(vm, scopes, data)?;
                Ok(HintExtension::default())
            }
            _ => self.builtin.execute_hint_extensive(vm, scopes, hint_data),
        }
    }
}

impl ResourceTracker for BatchHints {
    fn consumed(&self) -> bool {
        self.builtin.consumed()
    }

    fn consume_step(&mut self) {
        self.builtin.consume_step()
    }

    fn get_n_steps(&self) -> Option<usize> {
        self.builtin.get_n_steps()
    }

    fn run_resources(&self) -> &RunResources {
        self.builtin.run_resources()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_output_parses_and_rejects_overruns() {
        let f = |n: u64| Felt::from(n);
        let out = [f(2), f(7), f(1), f(42), f(8), f(0)];
        let tasks = parse_batch_output(&out).unwrap();
        assert_eq!(
            tasks,
            vec![
                TaskOutput {
                    task_hash: f(7),
                    output: vec![f(42)]
                },
                TaskOutput {
                    task_hash: f(8),
                    output: vec![]
                },
            ]
        );
        assert!(parse_batch_output(&[f(1), f(7), f(5), f(1)]).is_err());
        assert!(parse_batch_output(&[f(1), f(7)]).is_err());
        assert!(parse_batch_output(&[f(0), f(9)]).is_err());
        assert!(parse_batch_output(&[]).is_err());
    }
}
