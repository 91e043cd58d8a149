//! The committed CUDA (air/generated/cuda/cairo_air.cu), compiled for the CPU with the system
//! C++ compiler and the kernels crate's CUDA shim (`starfarm_kernels::cuda_emulation`, with
//! kernels/src/shaders/m31.cu), evaluates every component's constraints on a small domain
//! (random columns, parameters, coefficients and vanishing inverses) equal to the interpreter,
//! row by row and word by word. Skipped, with a message, when no C++ compiler is found.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};

use cairo_air::cairo_components::CairoComponents;
use cairo_air::relations::CommonLookupElements;
use num_traits::{One, Zero};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use starfarm_air::extract::{visit_components, Shape, Visitor};
use starfarm_air::interpret::{evaluate_constraints, Lookup, Mask, Params};
use starfarm_air::ir::{Air, Component, LogSize};
use starfarm_air::replay::lookup;
use starfarm_air::Instance;
use starfarm_kernels::cuda_emulation;
use starfarm_prover::{CairoProgram, Felt, ProgramInput};
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::constraints::coset_vanishing;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::core::pcs::TreeVec;
use stwo::core::poly::circle::CanonicCoset;
use stwo::core::utils::{bit_reverse, offset_bit_reversed_circle_domain_index};
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::Column;
use stwo::prover::poly::circle::{CircleEvaluation, PolyOps};
use stwo::prover::poly::twiddles::TwiddleTree;
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::{ComponentProver, DomainEvaluationAccumulator, EvaluationMode, Poly, Trace};
use stwo_cairo_prover::witness::cairo::create_cairo_claim_generator;
use stwo_cairo_prover::witness::preprocessed_trace::gen_trace;
use stwo_constraint_framework::{
    FrameworkComponent, FrameworkEval, InfoEvaluator, TraceLocationAllocator,
};

const TRACE_LOG: u32 = 3;

fn generated_cuda() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("generated/cuda/cairo_air.cu");
    std::fs::read_to_string(path).expect("generated CUDA is committed")
}

/// Compiles shim + m31.cu + the generated source + a harness that runs one kernel over every
/// row: `emu KERNEL COLS PARAMS ACCUM ROWS` (buffers are files of little-endian words).
static AIR: LazyLock<Air> = LazyLock::new(|| starfarm_air::extract().expect("extracts"));

/// The compiled emulator, built once per test binary.
fn emulator() -> Option<&'static Path> {
    static EXE: OnceLock<Option<PathBuf>> = OnceLock::new();
    EXE.get_or_init(|| compile(&AIR)).as_deref()
}

fn compile(air: &Air) -> Option<PathBuf> {
    let mut dispatch = String::new();
    for c in &air.components {
        dispatch.push_str(&format!(
            "    if (k == \"{0}\") {{ for (unsigned int r = 0; r < rows; r++) {{ blockIdx = {{0u, 0u, 0u}}; blockDim = {{1u, 1u, 1u}}; threadIdx = {{r, 0u, 0u}}; air_eval_{0}(cols.data(), params.data(), accum.data()); }} }}\n",
            c.name
        ));
    }
    let harness = format!(
        r#"
static std::vector<uint32_t> emu_read(const char* path) {{
    std::vector<uint32_t> words; FILE* f = std::fopen(path, "rb"); if (!f) std::exit(2);
    uint32_t w; while (std::fread(&w, 4, 1, f) == 1) words.push_back(w); std::fclose(f); return words;
}}
int main(int argc, char** argv) {{
    if (argc != 6) return 2;
    std::string k = argv[1];
    auto cols = emu_read(argv[2]); auto params = emu_read(argv[3]); auto accum = emu_read(argv[4]);
    unsigned int rows = (unsigned int)std::strtoul(argv[5], nullptr, 10);
{dispatch}
    FILE* f = std::fopen(argv[4], "wb"); std::fwrite(accum.data(), 4, accum.size(), f); std::fclose(f);
    return 0;
}}
"#
    );
    let dir = std::env::temp_dir().join(format!("starfarm-air-cuda-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let source = format!(
        "{}\n{}\n{}\n{harness}",
        cuda_emulation::SHIM,
        cuda_emulation::M31,
        generated_cuda()
    );
    match cuda_emulation::compile(&source, &dir.join("air"), 0) {
        Ok(Some(emu)) => {
            eprintln!(
                "generated CUDA compiled for the CPU with {} in {:?}",
                emu.compiler, emu.took
            );
            Some(emu.exe)
        }
        Ok(None) => {
            eprintln!(
                "SKIPPED: CUDA emulation of the generated constraints, no C++ compiler (set CXX)"
            );
            None
        }
        Err(message) => panic!("{message}"),
    }
}

fn write_words(path: &Path, words: &[u32]) {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    std::fs::write(path, bytes).expect("write buffer");
}

fn read_words(path: &Path) -> Vec<u32> {
    std::fs::read(path)
        .expect("read buffer")
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn qm31_words(v: QM31) -> [u32; 4] {
    v.to_m31_array().map(|m| m.0)
}

/// Random inputs for one component on a domain of `2^eval_log` rows.
struct Case {
    eval_log: u32,
    cols: Vec<Vec<M31>>,
    claim_params: Vec<u32>,
    claimed_sum: QM31,
    relations: Vec<Lookup>,
    coeffs: Vec<QM31>,
    denom_inv: Vec<M31>,
}

impl Case {
    fn random(air: &Air, c: &Component, rng: &mut SmallRng) -> Self {
        let eval_log = TRACE_LOG + c.log_blowup;
        let n_cols = c.preprocessed.len() + c.columns.iter().map(|t| t.len()).sum::<usize>();
        let m31 = |rng: &mut SmallRng| M31::from(rng.gen_range(0..0x7fff_ffffu32));
        Self {
            eval_log,
            cols: (0..n_cols)
                .map(|_| (0..1 << eval_log).map(|_| m31(rng)).collect())
                .collect(),
            claim_params: c
                .claim_params
                .iter()
                .map(|_| rng.gen_range(0..1 << 30))
                .collect(),
            claimed_sum: rng.gen(),
            relations: air
                .relations
                .iter()
                .map(|r| Lookup {
                    z: rng.gen(),
                    alpha_powers: (0..r.size).map(|_| rng.gen()).collect(),
                })
                .collect(),
            coeffs: c.constraints.iter().map(|_| rng.gen()).collect(),
            denom_inv: (0..1 << c.log_blowup).map(|_| m31(rng)).collect(),
        }
    }

    fn params_words(&self) -> Vec<u32> {
        let mut p = vec![self.eval_log, TRACE_LOG];
        p.extend(&self.claim_params);
        p.extend(qm31_words(self.claimed_sum));
        for r in &self.relations {
            p.extend(qm31_words(r.z));
            for a in &r.alpha_powers {
                p.extend(qm31_words(*a));
            }
        }
        for k in &self.coeffs {
            p.extend(qm31_words(*k));
        }
        p.extend(self.denom_inv.iter().map(|d| d.0));
        p
    }
}

struct RowMask<'a> {
    case: &'a Case,
    component: &'a Component,
    row: usize,
}

impl Mask for RowMask<'_> {
    fn trace(&self, interaction: u32, column: u32, position: usize) -> QM31 {
        let c = self.component;
        let offset = c.columns[interaction as usize - 1][column as usize][position];
        let index = c.preprocessed.len()
            + column as usize
            + if interaction == 2 {
                c.columns[0].len()
            } else {
                0
            };
        let row = offset_bit_reversed_circle_domain_index(
            self.row,
            TRACE_LOG,
            self.case.eval_log,
            offset as isize,
        );
        self.case.cols[index][row].into()
    }
    fn preprocessed(&self, index: u32) -> QM31 {
        self.case.cols[index as usize][self.row].into()
    }
}

/// The interpreter's accumulator after the component's rows are added to `initial`.
fn expected(case: &Case, c: &Component, initial: &[u32]) -> Vec<u32> {
    let n = 1usize << case.eval_log;
    let params = Params {
        log_size: TRACE_LOG,
        claim_params: &case.claim_params,
        claimed_sum: case.claimed_sum,
        relations: &case.relations,
    };
    let mut out = initial.to_vec();
    for row in 0..n {
        let mask = RowMask {
            case,
            component: c,
            row,
        };
        let values = evaluate_constraints(c, &mask, &params).expect("evaluates");
        let mut acc = QM31::zero();
        for (k, v) in case.coeffs.iter().zip(values) {
            acc += *k * v;
        }
        let acc = acc * case.denom_inv[row >> TRACE_LOG];
        for (i, w) in qm31_words(acc).iter().enumerate() {
            out[i * n + row] = (M31::from(out[i * n + row]) + M31::from(*w)).0;
        }
    }
    out
}

/// Runs kernel `air_eval_<name>` over `accum.len() / 4` rows; returns the accumulator.
fn run_kernel(exe: &Path, name: &str, cols: &[u32], params: &[u32], accum: &[u32]) -> Vec<u32> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = exe.parent().expect("dir");
    let call = NEXT.fetch_add(1, Ordering::Relaxed);
    let file = |what: &str| dir.join(format!("{what}{call}"));
    let (cols_path, params_path, accum_path) = (file("cols"), file("params"), file("accum"));
    write_words(&cols_path, cols);
    write_words(&params_path, params);
    write_words(&accum_path, accum);
    let status = Command::new(exe)
        .arg(name)
        .args([&cols_path, &params_path, &accum_path])
        .arg((accum.len() / 4).to_string())
        .status()
        .expect("runs");
    assert!(status.success(), "{name}: the emulated kernel failed");
    let out = read_words(&accum_path);
    for path in [cols_path, params_path, accum_path] {
        let _ = std::fs::remove_file(path);
    }
    out
}

#[test]
fn generated_cuda_equals_interpreter_row_by_row_for_every_component() {
    let air = &*AIR;
    let files = starfarm_air::codegen::generated_files(air).expect("generates");
    let (_, fresh) = files
        .iter()
        .find(|(name, _)| name.ends_with(".cu"))
        .expect("a CUDA file");
    assert_eq!(*fresh, generated_cuda(), "the committed CUDA is current");
    let Some(exe) = emulator() else {
        return;
    };
    let mut rng = SmallRng::seed_from_u64(16);
    for c in &air.components {
        let case = Case::random(air, c, &mut rng);
        let n = 1usize << case.eval_log;
        let cols: Vec<u32> = case.cols.iter().flatten().map(|m| m.0).collect();
        let initial: Vec<u32> = (0..4 * n).map(|_| rng.gen_range(0..0x7fff_ffff)).collect();
        let got = run_kernel(exe, &c.name, &cols, &case.params_words(), &initial);
        assert_eq!(
            got,
            expected(&case, c, &initial),
            "{}: accumulator words",
            c.name
        );
    }
    eprintln!(
        "{} components evaluated on {} rows each",
        air.components.len(),
        1 << (TRACE_LOG + 1)
    );
}

/// Each component (those of fixed size up to 2^12 rows; the others at 2^5 rows, where stwo
/// takes its SIMD path) on columns of its commitment domain (random ones, or a real
/// execution's trace extended there): stwo's `evaluate_constraint_quotients_on_domain` on
/// `SimdBackend`, finalized (interpolated) as the prover does, against the generated CUDA's
/// accumulator interpolated the same way.
struct AgainstSimd<'a> {
    exe: &'a Path,
    rng: SmallRng,
    elements: CommonLookupElements,
    columns: Columns,
    checked: usize,
}

/// Where the columns of [`AgainstSimd`] come from.
enum Columns {
    /// Random values on the evaluation domain, for every component.
    Random,
    /// A real execution's trace: only the instances its claim has.
    Real(Box<RealTrace>),
}

/// One instance to check: its size, claim value and logup sum, and its real columns if any.
struct SimdCase<'a> {
    trace_log: u32,
    param: u32,
    claimed_sum: QM31,
    real: Option<(&'a RealTrace, &'a Instance)>,
}

/// A real execution's trace as stwo-cairo's prover writes it (preprocessed columns by id,
/// base and interaction trace), with the IR's instances of its claim.
struct RealTrace {
    instances: Vec<Instance>,
    preprocessed: HashMap<String, Evaluation>,
    trees: [Vec<Evaluation>; 2],
    twiddles: TwiddleTree<SimdBackend>,
}

type Evaluation = CircleEvaluation<SimdBackend, M31, BitReversedOrder>;

/// Largest trace of a component checked (emulated rows are slow: one thread at a time).
const MAX_CHECKED_LOG: u32 = 12;

impl RealTrace {
    /// Executes `example` with `input` and writes its trace as `prove_cairo` does, with
    /// lookup elements drawn from a fresh channel (any elements make a valid interaction
    /// trace; these are also the ones the check uses).
    fn of(example: &str, input: &[u64], elements: &CommonLookupElements) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let program = CairoProgram::from_file(&root.join(format!("examples/{example}.json")))
            .expect("the example loads");
        let input = ProgramInput::new(input.iter().map(|v| Felt::from(*v)).collect());
        let execution =
            starfarm_prover::execute(&program, &input, Default::default()).expect("executes");
        let variant = starfarm_prover::choose_variant(&execution).expect("a variant proves it");
        let preprocessed = Arc::new(variant.to_preprocessed_trace());
        let generator =
            create_cairo_claim_generator(execution.adapt().expect("adapts"), preprocessed.clone());
        let (base, claim, interaction) = generator.write_trace();
        let (interaction, interaction_claim) = interaction.write_interaction_trace(elements);
        let components =
            CairoComponents::new(&claim, elements, &interaction_claim, &preprocessed.ids());
        let instances = starfarm_air::extract::instances(&AIR, &components).expect("instances");
        let preprocessed = preprocessed
            .ids()
            .into_iter()
            .map(|id| id.id)
            .zip(gen_trace(preprocessed))
            .collect();
        let largest = MAX_CHECKED_LOG + 2;
        let twiddles = SimdBackend::precompute_twiddles(CanonicCoset::new(largest).half_coset());
        Self {
            instances,
            preprocessed,
            trees: [base, interaction],
            twiddles,
        }
    }

    /// `column` (on its trace domain) evaluated on the canonic domain of `2^eval_log` points.
    fn extend(&self, column: &Evaluation, eval_log: u32) -> Poly<SimdBackend> {
        let coefficients = column.clone().interpolate_with_twiddles(&self.twiddles);
        let domain = CanonicCoset::new(eval_log).circle_domain();
        Poly::new(
            None,
            coefficients.evaluate_with_twiddles(domain, &self.twiddles),
        )
    }
}

impl Visitor for AgainstSimd<'_> {
    fn visit<E: FrameworkEval + Sync>(
        &mut self,
        name: &'static str,
        shape: Shape,
        make: impl Fn(u32, u32) -> E,
    ) {
        let air = &*AIR;
        let c = air.component(name).expect("in the IR");
        let cases: Vec<SimdCase> = match &self.columns {
            Columns::Random => {
                let trace_log = match c.log_size {
                    LogSize::Fixed(l) if l > MAX_CHECKED_LOG => return,
                    LogSize::Fixed(l) => l,
                    LogSize::Claimed => 5,
                };
                vec![SimdCase {
                    trace_log,
                    param: self.rng.gen_range(0..1u32 << 30),
                    claimed_sum: self.rng.gen(),
                    real: None,
                }]
            }
            Columns::Real(real) => real
                .instances
                .iter()
                .filter(|i| air.components[i.component].name == name)
                .filter(|i| i.log_size <= MAX_CHECKED_LOG)
                .map(|i| SimdCase {
                    trace_log: i.log_size,
                    param: i.claim_params.first().copied().unwrap_or(0),
                    claimed_sum: i.claimed_sum,
                    real: Some((real, i)),
                })
                .collect(),
        };
        for case in cases {
            check_against_simd(
                self.exe,
                &mut self.rng,
                &self.elements,
                (name, shape, c),
                make(case.trace_log, case.param),
                &case,
            );
            self.checked += 1;
        }
    }
}

/// One instance of component `c` (made as `eval`) on `case`'s columns: stwo's composition on
/// `SimdBackend` equals the generated CUDA's, coefficient by coefficient.
fn check_against_simd<E: FrameworkEval + Sync>(
    exe: &Path,
    rng: &mut SmallRng,
    elements: &CommonLookupElements,
    (name, shape, c): (&str, Shape, &Component),
    eval: E,
    case: &SimdCase,
) {
    let air = &*AIR;
    let (trace_log, param, claimed_sum) = (case.trace_log, case.param, case.claimed_sum);
    let eval_log = eval.max_constraint_log_degree_bound();
    let info = eval.evaluate(InfoEvaluator::new(trace_log, vec![], QM31::zero()));
    let component =
        FrameworkComponent::new(&mut TraceLocationAllocator::default(), eval, claimed_sum);

    // Committed evaluations with blowup 1: the commitment domain is the evaluation domain.
    let domain = CanonicCoset::new(eval_log).circle_domain();
    let random_poly = |rng: &mut SmallRng| {
        let values: Vec<M31> = (0..1 << eval_log)
            .map(|_| M31::from(rng.gen_range(0..0x7fff_ffffu32)))
            .collect();
        Poly::<SimdBackend>::new(None, Evaluation::new(domain, BaseColumn::from_cpu(&values)))
    };
    let preprocessed: Vec<Poly<SimdBackend>> = info
        .preprocessed_columns
        .iter()
        .map(|column| match case.real {
            None => random_poly(rng),
            Some((real, _)) => real.extend(&real.preprocessed[&column.id], eval_log),
        })
        .collect();
    let trees: Vec<Vec<Poly<SimdBackend>>> = c
        .columns
        .iter()
        .enumerate()
        .map(|(tree, cols)| {
            (0..cols.len())
                .map(|j| match case.real {
                    None => random_poly(rng),
                    Some((real, instance)) => {
                        let column = &real.trees[tree][instance.first_column[tree] + j];
                        assert_eq!(column.domain.log_size(), trace_log, "{name}'s column {j}");
                        real.extend(column, eval_log)
                    }
                })
                .collect()
        })
        .collect();
    let polys = TreeVec::new(
        std::iter::once(preprocessed.iter().collect::<Vec<_>>())
            .chain(trees.iter().map(|t| t.iter().collect()))
            .collect(),
    );
    let random_coeff: QM31 = rng.gen();
    let n = c.constraints.len();
    let mut accumulator = DomainEvaluationAccumulator::<SimdBackend>::new(
        random_coeff,
        eval_log,
        n,
        EvaluationMode::SubDomain { log_expansion: 0 },
    );
    component.evaluate_constraint_quotients_on_domain(&Trace { polys }, &mut accumulator);
    let twiddles = SimdBackend::precompute_twiddles(CanonicCoset::new(eval_log).half_coset());
    let expected = accumulator.finalize(&twiddles);

    // The same inputs for the kernel: preprocessed columns in IR order (by id).
    let words = |p: &Poly<SimdBackend>| -> Vec<u32> {
        p.evals.values.to_cpu().iter().map(|m| m.0).collect()
    };
    let mut cols: Vec<u32> = vec![];
    for i in 0..c.preprocessed.len() {
        let id = c.preprocessed_id(i, trace_log);
        let at = info
            .preprocessed_columns
            .iter()
            .position(|p| p.id == id)
            .expect("the IR's preprocessed column is read by the component");
        cols.extend(words(&preprocessed[at]));
    }
    for tree in &trees {
        for p in tree {
            cols.extend(words(p));
        }
    }
    let lookup = lookup(elements, air.relations[0].size as usize);
    let mut params = vec![eval_log, trace_log];
    if let Shape::WithParam(_) = shape {
        params.push(param);
    }
    params.extend(qm31_words(claimed_sum));
    params.extend(qm31_words(lookup.z));
    for a in &lookup.alpha_powers {
        params.extend(qm31_words(*a));
    }
    // Constraint i gets random_coeff^(n - 1 - i), as the accumulator hands them out.
    let mut powers: Vec<QM31> =
        std::iter::successors(Some(QM31::one()), |p| Some(*p * random_coeff))
            .take(n)
            .collect();
    powers.reverse();
    for p in powers {
        params.extend(qm31_words(p));
    }
    let trace_coset = CanonicCoset::new(trace_log).coset();
    let mut denom_inv: Vec<M31> = (0..1 << (eval_log - trace_log))
        .map(|i| coset_vanishing(trace_coset, domain.at(i)).inverse())
        .collect();
    bit_reverse(&mut denom_inv);
    params.extend(denom_inv.iter().map(|d| d.0));

    let got = run_kernel(exe, name, &cols, &params, &vec![0; 4 << eval_log]);
    for (coordinate, expected) in expected.0.iter().enumerate() {
        let column: Vec<M31> = got[coordinate << eval_log..(coordinate + 1) << eval_log]
            .iter()
            .map(|w| M31::from(*w))
            .collect();
        let poly = CircleEvaluation::<SimdBackend, M31, BitReversedOrder>::new(
            domain,
            BaseColumn::from_cpu(&column),
        )
        .interpolate_with_twiddles(&twiddles);
        assert_eq!(
            poly.coeffs.to_cpu(),
            expected.coeffs.to_cpu(),
            "{name}: coordinate {coordinate} of the composition"
        );
    }
}

#[test]
fn generated_cuda_equals_simd_backend_composition() {
    let Some(exe) = emulator() else {
        return;
    };
    let mut rng = SmallRng::seed_from_u64(17);
    let elements = CommonLookupElements::draw(&mut {
        let mut channel = Blake2sChannel::default();
        channel.mix_u32s(&[rng.gen()]);
        channel
    });
    let mut check = AgainstSimd {
        exe,
        rng,
        elements: elements.clone(),
        columns: Columns::Random,
        checked: 0,
    };
    visit_components(&elements, &mut check);
    eprintln!(
        "{} components equal to SimdBackend's composition",
        check.checked
    );
    assert!(
        check.checked > 50,
        "most components are checked against SimdBackend"
    );
}

/// A real trace (fibonacci, executed and written by stwo-cairo's witness generation as the
/// prover does): every instance of its claim up to 2^12 rows, its columns extended to its
/// evaluation domain, gives the same composition on `SimdBackend` and in the generated CUDA.
#[test]
fn generated_cuda_equals_simd_backend_on_a_real_trace() {
    let Some(exe) = emulator() else {
        return;
    };
    let elements = CommonLookupElements::draw(&mut Blake2sChannel::default());
    let real = RealTrace::of("fibonacci", &[100], &elements);
    let all = real.instances.len();
    let small = real
        .instances
        .iter()
        .filter(|i| i.log_size <= MAX_CHECKED_LOG)
        .count();
    let mut check = AgainstSimd {
        exe,
        rng: SmallRng::seed_from_u64(18),
        elements: elements.clone(),
        columns: Columns::Real(Box::new(real)),
        checked: 0,
    };
    visit_components(&elements, &mut check);
    eprintln!(
        "{} of the real trace's {all} instances equal to SimdBackend's composition (the others \
         have over 2^{MAX_CHECKED_LOG} rows)",
        check.checked
    );
    assert_eq!(
        check.checked, small,
        "every small instance of the claim is checked"
    );
    assert!(check.checked >= 10, "the trace has instances to check");
}
