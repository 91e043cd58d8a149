// Test program: declares only two builtins, which starfarm must refuse.
%builtins output range_check

func main{output_ptr: felt*, range_check_ptr}() {
    assert [output_ptr] = 7;
    let output_ptr = output_ptr + 1;
    return ();
}
