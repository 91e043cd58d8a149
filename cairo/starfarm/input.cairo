// Program input for starfarm. The prover (and cairo-lang's `cairo-run --program_input`) passes
// a JSON array of felts; `read_input` copies it into a new memory segment. starfarm's hint
// processor recognises this exact hint text, so do not edit it without updating
// `prover/src/input.rs`.
func read_input() -> (input_len: felt, input: felt*) {
    alloc_locals;
    local input_len: felt;
    local input: felt*;
    %{
        ids.input_len = len(program_input)
        ids.input = segments.gen_arg([int(x, 0) if isinstance(x, str) else int(x) for x in program_input])
    %}
    return (input_len=input_len, input=input);
}
