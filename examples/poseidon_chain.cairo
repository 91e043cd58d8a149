// Poseidon hash chain: input [n, seed]; h_0 = seed, h_{i+1} = poseidon(h_i, i).
// Outputs n, seed and h_n. Uses the poseidon builtin.
%builtins output pedersen range_check ecdsa bitwise ec_op keccak poseidon range_check96 add_mod mul_mod

from starkware.cairo.common.cairo_builtins import PoseidonBuiltin
from starkware.cairo.common.builtin_poseidon.poseidon import poseidon_hash
from starkware.cairo.common.serialize import serialize_word
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
    assert input_len = 2;
    local n = input[0];
    local seed = input[1];
    let h = chain{poseidon_ptr=poseidon_ptr}(seed, 0, n);
    serialize_word(n);
    serialize_word(seed);
    serialize_word(h);
    return ();
}

func chain{poseidon_ptr: PoseidonBuiltin*}(h: felt, i: felt, n: felt) -> felt {
    if (i == n) {
        return h;
    }
    let (next) = poseidon_hash(h, i);
    return chain(next, i + 1, n);
}
