// STARK-curve ECDSA checks with `check_ecdsa_signature` (ec_op builtin; the ecdsa builtin is
// not provable in this layout). Input: [message, public_key, r, s] repeated; for each
// signature outputs message, public_key and 1 (valid) or 0 (invalid).
%builtins output pedersen range_check ecdsa bitwise ec_op keccak poseidon range_check96 add_mod mul_mod

from starkware.cairo.common.cairo_builtins import EcOpBuiltin
from starkware.cairo.common.serialize import serialize_word
from starkware.cairo.common.signature import check_ecdsa_signature
from starfarm.input import read_input

func main{
    output_ptr: felt*,
    pedersen_ptr,
    range_check_ptr,
    ecdsa_ptr,
    bitwise_ptr,
    ec_op_ptr: EcOpBuiltin*,
    keccak_ptr,
    poseidon_ptr,
    range_check96_ptr,
    add_mod_ptr,
    mul_mod_ptr,
}() {
    let (input_len, input) = read_input();
    check_all(input, input_len);
    return ();
}

func check_all{output_ptr: felt*, ec_op_ptr: EcOpBuiltin*}(data: felt*, len: felt) {
    if (len == 0) {
        return ();
    }
    let (valid) = check_ecdsa_signature(
        message=data[0], public_key=data[1], signature_r=data[2], signature_s=data[3]
    );
    serialize_word(data[0]);
    serialize_word(data[1]);
    serialize_word(valid);
    return check_all(data + 4, len - 4);
}
