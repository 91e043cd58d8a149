// Pedersen hash chain over the input: outputs the number of felts and
// pedersen(...pedersen(pedersen(0, x_0), x_1)..., x_{n-1}). Uses the pedersen builtin.
%builtins output pedersen range_check ecdsa bitwise ec_op keccak poseidon range_check96 add_mod mul_mod

from starkware.cairo.common.cairo_builtins import HashBuiltin
from starkware.cairo.common.hash import hash2
from starkware.cairo.common.serialize import serialize_word
from starfarm.input import read_input

func main{
    output_ptr: felt*,
    pedersen_ptr: HashBuiltin*,
    range_check_ptr,
    ecdsa_ptr,
    bitwise_ptr,
    ec_op_ptr,
    keccak_ptr,
    poseidon_ptr,
    range_check96_ptr,
    add_mod_ptr,
    mul_mod_ptr,
}() {
    alloc_locals;
    let (input_len, input) = read_input();
    let h = chain{hash_ptr=pedersen_ptr}(0, input, input_len);
    serialize_word(input_len);
    serialize_word(h);
    return ();
}

func chain{hash_ptr: HashBuiltin*}(h: felt, data: felt*, n: felt) -> felt {
    if (n == 0) {
        return h;
    }
    let (next) = hash2(h, data[0]);
    return chain(next, data + 1, n - 1);
}
