//! Running a program with cairo-vm in proof mode, ready for the stwo-cairo adapter.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cairo_vm::cairo_run::{cairo_run_program, CairoRunConfig};
use cairo_vm::hint_processor::builtin_hint_processor::builtin_hint_processor_definition::BuiltinHintProcessor;
use cairo_vm::hint_processor::hint_processor_definition::HintProcessor;
use cairo_vm::types::layout_name::LayoutName;
use cairo_vm::types::relocatable::Relocatable;
use cairo_vm::vm::runners::builtin_runner::BuiltinRunner;
use cairo_vm::vm::runners::cairo_runner::{CairoRunner, RunResources};
use starknet_types_core::felt::Felt;
use stwo_cairo_adapter::ProverInput;

use crate::error::ExecuteError;
use crate::input::{ProgramInput, INPUT_HINT};
use crate::program::CairoProgram;

/// Bounds on one run.
#[derive(Clone, Copy, Debug)]
pub struct ExecutionLimits {
    /// Steps after which the run is stopped with [`ExecuteError::StepLimit`].
    pub max_steps: u64,
}

impl Default for ExecutionLimits {
    fn default() -> Self {
        // 2^24 steps: far above what fits in memory for proving on a 24 GiB machine (~2^20).
        Self { max_steps: 1 << 24 }
    }
}

/// A finished run: what the program output and what it used.
pub struct Execution {
    pub output: Vec<Felt>,
    pub steps: u64,
    /// Builtin instances used, by builtin name (`output`, `pedersen`, ...); unused ones omitted.
    pub builtins: BTreeMap<String, u64>,
    pub duration: Duration,
    runner: CairoRunner,
}

impl std::fmt::Debug for Execution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Execution")
            .field("output", &self.output)
            .field("steps", &self.steps)
            .field("builtins", &self.builtins)
            .finish()
    }
}

impl Execution {
    /// Whether the run used the given builtin at least once.
    pub fn uses(&self, builtin: &str) -> bool {
        self.builtins.get(builtin).is_some_and(|n| *n > 0)
    }

    /// Steps spent in each function of `program` (the one this run executed), most first:
    /// each executed pc is charged to the function whose code starts at or below it (the
    /// compiled program's `function` identifiers), with the times the function was entered.
    /// For finding where a program's steps go (`block_program` bench,
    /// STARFARM_BENCH_STEPS_BY_FUNCTION=1); not used when proving.
    pub fn steps_by_function(&self, program: &CairoProgram) -> Vec<FunctionSteps> {
        let mut starts: Vec<(usize, &str)> = program
            .vm_program()
            .iter_identifiers()
            .filter(|(_, id)| id.type_.as_deref() == Some("function"))
            .filter_map(|(name, id)| id.pc.map(|pc| (pc, name)))
            .collect();
        starts.sort_unstable();
        let mut by_pc: BTreeMap<usize, u64> = BTreeMap::new();
        for entry in self.runner.get_relocatable_trace().unwrap_or(&[]) {
            // The program's code is segment 0; anything else (none in proof mode) is skipped.
            if entry.pc.segment_index == 0 {
                *by_pc.entry(entry.pc.offset).or_default() += 1;
            }
        }
        let mut by_function: BTreeMap<&str, FunctionSteps> = BTreeMap::new();
        for (pc, count) in by_pc {
            let at = starts.partition_point(|(start, _)| *start <= pc);
            let (start, name) = at
                .checked_sub(1)
                .map_or((0, "<before any function>"), |i| starts[i]);
            let row = by_function.entry(name).or_insert_with(|| FunctionSteps {
                name: name.to_string(),
                steps: 0,
                calls: 0,
            });
            row.steps += count;
            if pc == start {
                row.calls += count;
            }
        }
        let mut rows: Vec<FunctionSteps> = by_function.into_values().collect();
        rows.sort_by(|a, b| b.steps.cmp(&a.steps).then_with(|| a.name.cmp(&b.name)));
        rows
    }

    /// Turns the run into the stwo-cairo prover input.
    pub fn adapt(&self) -> Result<ProverInput, ExecuteError> {
        stwo_cairo_adapter::adapter::adapt(&self.runner)
            .map_err(|e| ExecuteError::Adapter(format!("{e:#}")))
    }
}

/// Runs `program` on `input` in proof mode with the `all_cairo_stwo` layout.
pub fn execute(
    program: &CairoProgram,
    input: &ProgramInput,
    limits: ExecutionLimits,
) -> Result<Execution, ExecuteError> {
    let max_steps = usize::try_from(limits.max_steps).unwrap_or(usize::MAX);
    let mut hints = BuiltinHintProcessor::new(Default::default(), RunResources::new(max_steps));
    hints.add_hint(INPUT_HINT.to_string(), input.hint());
    execute_with(program, &mut hints, limits)
}

/// One function's share of a run ([`Execution::steps_by_function`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionSteps {
    /// The function's full name (`starfarm.batch_ecdsa.msm_window`).
    pub name: String,
    /// Steps executed in its code (not in the functions it calls).
    pub steps: u64,
    /// Times its first instruction ran: the calls, plus the jumps back to its start (a
    /// tail-recursive loop's iterations count as calls either way).
    pub calls: u64,
}

/// Runs `program` with `hints` (which enforce the step limit); `limits` is only reported.
pub(crate) fn execute_with(
    program: &CairoProgram,
    hints: &mut dyn HintProcessor,
    limits: ExecutionLimits,
) -> Result<Execution, ExecuteError> {
    let started = Instant::now();
    let config = CairoRunConfig {
        trace_enabled: true,
        relocate_mem: false,
        relocate_trace: false,
        proof_mode: true,
        layout: LayoutName::all_cairo_stwo,
        fill_holes: true,
        disable_trace_padding: true,
        ..CairoRunConfig::default()
    };
    let runner = cairo_run_program(program.vm_program(), &config, hints).map_err(|e| {
        if hints.consumed() {
            ExecuteError::StepLimit {
                limit: limits.max_steps,
            }
        } else {
            // cairo-vm's message carries the Cairo source location and traceback.
            ExecuteError::Failed(e.to_string())
        }
    })?;
    let resources = runner
        .get_execution_resources()
        .map_err(|e| ExecuteError::Failed(e.to_string()))?;
    let builtins = resources
        .builtin_instance_counter
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(name, n)| (name.to_str().to_string(), *n as u64))
        .collect();
    Ok(Execution {
        output: read_output(&runner)?,
        steps: resources.n_steps as u64,
        builtins,
        duration: started.elapsed(),
        runner,
    })
}

fn read_output(runner: &CairoRunner) -> Result<Vec<Felt>, ExecuteError> {
    let Some(base) = runner.vm.builtin_runners.iter().find_map(|b| match b {
        BuiltinRunner::Output(o) => Some(o.base()),
        _ => None,
    }) else {
        return Ok(Vec::new());
    };
    let size = runner.vm.segments.get_segment_used_size(base).unwrap_or(0);
    let start = Relocatable::from((base as isize, 0));
    runner
        .vm
        .get_integer_range(start, size)
        .map(|felts| felts.into_iter().map(|f| *f).collect())
        .map_err(|e| ExecuteError::Failed(format!("cannot read the output segment: {e}")))
}
