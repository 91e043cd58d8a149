// Fibonacci: input [n]; outputs n and the n-th Fibonacci number (mod the Cairo prime).
// About 6 steps per iteration: n = 11000 gives ~2^16 steps, n = 44000 ~2^18, n = 175000 ~2^20.
%builtins output pedersen range_check ecdsa bitwise ec_op keccak poseidon range_check96 add_mod mul_mod

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
    poseidon_ptr,
    range_check96_ptr,
    add_mod_ptr,
    mul_mod_ptr,
}() {
    alloc_locals;
    let (input_len, input) = read_input();
    assert input_len = 1;
    local n = input[0];
    let result = fib(0, 1, n);
    serialize_word(n);
    serialize_word(result);
    return ();
}

func fib(a: felt, b: felt, n: felt) -> felt {
    if (n == 0) {
        return a;
    }
    return fib(b, a + b, n - 1);
}
