// starfarm's batch program: runs several Cairo 0 programs (tasks) in one run, so that one
// proof covers them all. Its output names each task by a hash of the code that ran and gives
// that task's output:
//
//   [n_tasks, (task_hash, output_len, output...) for each task]
//   task_hash = poseidon(main, poseidon_hash_many(code))
//
// The prover's hint (prover/src/batch.rs) loads each task's compiled code into its own
// segment. The code is hashed here from the same memory cells that then run, so the hint
// cannot make the output name other code than what ran. A task is a `--proof_mode` program
// declaring the same eleven builtins; its `main` is called with the builtin pointers and
// returns them. Memory is write-once: a task cannot forge the header of its own or another
// task's output (the writes below would conflict), and its output length is range-checked.
%builtins output pedersen range_check ecdsa bitwise ec_op keccak poseidon range_check96 add_mod mul_mod

from starkware.cairo.common.builtin_poseidon.poseidon import poseidon_hash, poseidon_hash_many
from starkware.cairo.common.cairo_builtins import PoseidonBuiltin
from starkware.cairo.common.math import assert_nn

struct Task {
    code: felt*,
    code_len: felt,
    main: felt,
}

func main{
    output_ptr: felt*,
    pedersen_ptr,
    range_check_ptr,
    ecdsa_ptr,
    bitwise_ptr,
    ec_op_ptr,
    keccak_ptr,
    poseidon_ptr: PoseidonBuiltin*,
    range_check96_ptr,
    add_mod_ptr,
    mul_mod_ptr,
}() {
    alloc_locals;
    local n_tasks: felt;
    local tasks: Task*;
    %{ ids.n_tasks, ids.tasks = starfarm_load_batch_tasks() %}
    assert output_ptr[0] = n_tasks;
    let output_ptr = output_ptr + 1;
    run_tasks(n_tasks, tasks);
    return ();
}

func run_tasks{
    output_ptr: felt*,
    pedersen_ptr,
    range_check_ptr,
    ecdsa_ptr,
    bitwise_ptr,
    ec_op_ptr,
    keccak_ptr,
    poseidon_ptr: PoseidonBuiltin*,
    range_check96_ptr,
    add_mod_ptr,
    mul_mod_ptr,
}(n_tasks: felt, tasks: Task*) {
    if (n_tasks == 0) {
        return ();
    }
    run_task(tasks);
    return run_tasks(n_tasks - 1, tasks + Task.SIZE);
}

func run_task{
    output_ptr: felt*,
    pedersen_ptr,
    range_check_ptr,
    ecdsa_ptr,
    bitwise_ptr,
    ec_op_ptr,
    keccak_ptr,
    poseidon_ptr: PoseidonBuiltin*,
    range_check96_ptr,
    add_mod_ptr,
    mul_mod_ptr,
}(task: Task*) {
    alloc_locals;
    let (code_hash) = poseidon_hash_many(task.code_len, task.code);
    let (local task_hash) = poseidon_hash(task.main, code_hash);
    local header: felt* = output_ptr;
    let (
        new_output, new_pedersen, new_range_check, new_ecdsa, new_bitwise, new_ec_op, new_keccak,
        new_poseidon, new_range_check96, new_add_mod, new_mul_mod,
    ) = call_task(
        task.code + task.main,
        cast(header + 2, felt),
        pedersen_ptr,
        range_check_ptr,
        ecdsa_ptr,
        bitwise_ptr,
        ec_op_ptr,
        keccak_ptr,
        cast(poseidon_ptr, felt),
        range_check96_ptr,
        add_mod_ptr,
        mul_mod_ptr,
    );
    let output_ptr = cast(new_output, felt*);
    let pedersen_ptr = new_pedersen;
    let range_check_ptr = new_range_check;
    let ecdsa_ptr = new_ecdsa;
    let bitwise_ptr = new_bitwise;
    let ec_op_ptr = new_ec_op;
    let keccak_ptr = new_keccak;
    let poseidon_ptr = cast(new_poseidon, PoseidonBuiltin*);
    let range_check96_ptr = new_range_check96;
    let add_mod_ptr = new_add_mod;
    let mul_mod_ptr = new_mul_mod;
    let output_len = output_ptr - (header + 2);
    assert_nn(output_len);
    assert header[0] = task_hash;
    assert header[1] = output_len;
    return ();
}

// Calls `entry` with the eleven builtin pointers, in the order of %builtins, and returns what
// it returns: the task's `main` takes them and returns them updated.
func call_task(
    entry: felt*, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10
) -> (b0: felt, b1: felt, b2: felt, b3: felt, b4: felt, b5: felt, b6: felt, b7: felt, b8: felt, b9: felt, b10: felt) {
    [ap] = b0, ap++;
    [ap] = b1, ap++;
    [ap] = b2, ap++;
    [ap] = b3, ap++;
    [ap] = b4, ap++;
    [ap] = b5, ap++;
    [ap] = b6, ap++;
    [ap] = b7, ap++;
    [ap] = b8, ap++;
    [ap] = b9, ap++;
    [ap] = b10, ap++;
    call abs entry;
    ret;
}
