// Checks a batch of ECDSA signatures with `verify_ecdsa_batch` (cairo/starfarm/batch_ecdsa.cairo)
// and outputs their number: the test and measurement program of the batched check (the block
// program calls the library itself). Input, written by
// `starfarm_sequencer::batch_ecdsa::BatchInput::to_felts`: n, the n signature records, their
// hints, the batch hint; every felt must be read.
%builtins output pedersen range_check ecdsa bitwise ec_op keccak poseidon range_check96 add_mod mul_mod

from starkware.cairo.common.builtin_poseidon.poseidon import poseidon_hash_many
from starkware.cairo.common.cairo_builtins import PoseidonBuiltin
from starfarm.batch_ecdsa import SIGNATURE_SIZE, verify_ecdsa_batch
from starfarm.input import read_input

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
    let (input_len, input) = read_input();
    local n = input[0];
    // Nothing else binds the records' messages and keys here: the transcript starts from the
    // hash of all records (the block program starts from its root and commitments instead).
    let (bound) = poseidon_hash_many(n * SIGNATURE_SIZE, input + 1);
    let end = verify_ecdsa_batch(n, input + 1, input + 1 + n * SIGNATURE_SIZE, bound);
    assert end = input + input_len;
    assert output_ptr[0] = n;
    let output_ptr = output_ptr + 1;
    return ();
}
