// starfarm's block program: re-executes a range of one block's transactions against the
// Merkle witnesses of the accounts they touch and outputs the header of docs/sequencer.md
// ("Block program output"). Input layout: docs/sequencer.md ("Block program input"), written
// by `RangeInput::to_felts` (sequencer/src/program_input.rs).
//
// Pass 1 executes the transactions over the touched accounts' states, held as write-once
// "versions": versions 0..n_accounts-1 are the accounts' states at the range start, and every
// account slot of a transaction (sender, recipient) creates the next version of its account
// from an earlier one, named by index in the input. A version records its successor (`next`)
// the first time one consumes it, so a second consumer fails; pass 2 marks each account's
// final version with `next = END`. So the versions of an account form one chain from its
// start state to its final state, in transaction order.
//
// Pass 2 computes every touched account's leaf once at the range start and once at its final
// version. The accounts present at the start (most of them) are updated together: one pass over
// the union of their trie paths, pre-order from the root, hashes every node of the union once
// with the old leaves (that must give the current root) and once with the new ones (the next
// root), so a node shared by many paths is hashed twice, not twice per account. Then each
// absent account is inserted on its own, in address order: its proof is climbed from the edge
// its key leaves to the root, computing the old and the new hash of every node on the way.
//
// Signatures: pass 1 writes one record per signed transaction (its hash, the signer's key,
// r, s and the two y's the input states) and, after pass 2, all of them are checked at once
// by `verify_ecdsa_batch` (cairo/starfarm/batch_ecdsa.cairo: one multi-scalar multiplication
// in plain Cairo with half-length scalars, coefficients from a Poseidon transcript that
// starts from the range's start root and commitments and absorbs each signature's r, s, v and
// y parities, low s only), so
// the program uses no ec_op builtin and proves on the small preprocessed trace when short
// enough (docs/sequencer.md, "Signatures without ec_op").
%builtins output pedersen range_check ecdsa bitwise ec_op keccak poseidon range_check96 add_mod mul_mod

from starkware.cairo.common.alloc import alloc
from starkware.cairo.common.cairo_builtins import PoseidonBuiltin
from starkware.cairo.common.math import assert_lt_felt
from starkware.cairo.common.memcpy import memcpy
from starkware.cairo.common.poseidon_state import PoseidonBuiltinState
from starkware.cairo.common.registers import get_label_location
from starfarm.batch_ecdsa import SIGNATURE_SIZE, verify_ecdsa_batch
from starfarm.input import read_input

// First felt of the input: the version of its layout.
const INPUT_VERSION = 5;
// Transaction hash version and chain id (docs/sequencer.md, "Transactions").
const TX_VERSION = 1;
const CHAIN_ID = 'SN_STARFARM';
const ACCOUNT_CLASS = 'STARFARM_ACCOUNT_V1';
// Starknet's L2_ADDRESS_UPPER_BOUND = 2^251 - 256 = ADDRESS_BOUND_HIGH * 2^128 +
// ADDRESS_BOUND_LOW: addresses are below it.
const ADDRESS_BOUND = 2 ** 251 - 256;
const ADDRESS_BOUND_HIGH = 2 ** 123 - 1;
const ADDRESS_BOUND_LOW = 2 ** 128 - 256;
// PRIME - ADDRESS_BOUND: a hash h >= ADDRESS_BOUND reduces to h - ADDRESS_BOUND, below this.
const WRAP_LIMIT = 17 * 2 ** 192 + 257;
const HEIGHT = 251;
const U128 = 2 ** 128;
// `next` of a final version: no version has this index.
const END = -1;

// Transaction kinds (tags of `Transaction::kind`) and their record sizes in the input.
const DEPLOY_ACCOUNT = 0;
const TRANSFER = 1;
const WITHDRAW = 2;
const DEPOSIT = 3;
const DEPLOY_ACCOUNT_SIZE = 8;
const TRANSFER_SIZE = 12;
const WITHDRAW_SIZE = 11;
const DEPOSIT_SIZE = 7;
// Execution status of a transaction, as the input states it (checked here).
const SUCCEEDED = 0;
const INSUFFICIENT_BALANCE = 1;
const BALANCE_OVERFLOW = 2;
// Proof node kinds (bottom-up records): 0 and 1 are binary nodes (the kind is the key's bit
// there), then edges the key follows and the edge an absent key leaves.
const EDGE = 2;
const EDGE_LEAVES = 3;
const BINARY_SIZE = 2;
const EDGE_SIZE = 3;
const EDGE_LEAVES_SIZE = 13;
// Records of the present accounts' union of paths (pre-order, `shared_update`): a binary
// node with accounts below one child only ([kind, the other child's hash]) or below both
// ([kind]), and an edge the keys follow ([kind, path, length]).
const SHARED_LEFT = 0;
const SHARED_RIGHT = 1;
const SHARED_BOTH = 2;
const SHARED_EDGE = 3;

// An account of the input: its address (also split as high * 2^128 + low) and its state at
// the range start (zeros if absent).
struct Account {
    address: felt,
    high: felt,
    low: felt,
    class_hash: felt,
    public_key: felt,
    balance: felt,
    nonce: felt,
}

// A state of the account `accounts[account]`; `next` is the version made from it (or END).
struct Version {
    account: felt,
    class_hash: felt,
    public_key: felt,
    balance: felt,
    nonce: felt,
    next: felt,
}

// An account's contracts-trie leaf before and after the range (pass 2).
struct Leaf {
    address: felt,
    before: felt,
    after: felt,
}

// Tables for key arithmetic (see `pow2_tables`).
struct Tables {
    pow2: felt*,
    high_bound: felt*,
    low_bound: felt*,
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
    let (input_len, input) = read_input();
    local input_end: felt* = input + input_len;
    assert input[0] = INPUT_VERSION;
    local number = input[1];
    local parent_hash = input[2];
    local timestamp = input[3];
    local tx_count = input[4];
    local tx_start = input[5];
    local commitment_start = input[6];
    local root_start = input[7];
    local n_accounts = input[8];
    local accounts: Account* = cast(input + 9, Account*);

    // Pass 1: the accounts' start states are versions 0..n_accounts-1.
    let (versions: Version*) = alloc();
    local versions: Version* = versions;
    load_accounts(accounts, versions, 0, n_accounts, 0, 0);
    local txs: felt* = input + 9 + n_accounts * Account.SIZE;
    local tx_end = tx_start + txs[0];
    assert [range_check_ptr] = tx_count - tx_end;
    let range_check_ptr = range_check_ptr + 1;

    // Messages to L1 go straight to the output (after the header and their size); messages
    // to L2 go to a buffer copied after them.
    local l1_start: felt* = output_ptr + 12;
    let (l2_start: felt*) = alloc();
    local l2_start: felt* = l2_start;
    let l1 = l1_start;
    let l2 = l2_start;
    // Signature records (SIGNATURE_SIZE each), checked together after pass 2.
    let (sig_start: felt*) = alloc();
    local sig_start: felt* = sig_start;
    let sig = sig_start;
    with l1, l2, sig {
        let (proofs, n_versions, commitment_end) = execute_txs(
            accounts, versions, txs + 1, txs[0], n_accounts, commitment_start
        );
    }
    local l1_end: felt* = l1;
    local l2_end: felt* = l2;
    local n_signatures = (sig - sig_start) / SIGNATURE_SIZE;
    local proofs: felt* = proofs;
    local n_versions = n_versions;
    local commitment_end = commitment_end;

    // Pass 2.
    let (tables: Tables*) = alloc();
    let (pow2, high_bound, low_bound) = pow2_tables();
    assert [tables] = Tables(pow2=pow2, high_bound=high_bound, low_bound=low_bound);
    let (present_start: Leaf*) = alloc();
    local present_start: Leaf* = present_start;
    let (absent_start: Leaf*) = alloc();
    local absent_start: Leaf* = absent_start;
    let (present_end, absent_end) = account_leaves(
        accounts=accounts,
        versions=versions,
        n_versions=n_versions,
        index=0,
        n_accounts=n_accounts,
        finals=proofs,
        present=present_start,
        absent=absent_start,
    );
    local absent_end: Leaf* = absent_end;
    local shared: felt* = proofs + n_accounts;
    let (root_shared, shared_end) = update_present(
        shared, present_start, present_end, root_start, tables.pow2
    );
    let (root_end, data_end) = insert_accounts(
        absent_start, absent_end, tables, root_shared, shared_end
    );
    local root_end = root_end;
    let hints_end = verify_signatures(
        n_signatures, sig_start, data_end, root_start, commitment_start, commitment_end
    );
    // Every input felt was read.
    assert hints_end = input_end;

    let state_root_start = global_root(root_start);
    local state_root_start = state_root_start;
    let state_root_end = global_root(root_end);
    local state_root_end = state_root_end;
    let block_hash = block_hash_if_last(
        number, parent_hash, timestamp, state_root_end, tx_end, tx_count, commitment_end
    );

    assert output_ptr[0] = state_root_start;
    assert output_ptr[1] = state_root_end;
    assert output_ptr[2] = number;
    assert output_ptr[3] = parent_hash;
    assert output_ptr[4] = block_hash;
    assert output_ptr[5] = timestamp;
    assert output_ptr[6] = tx_start;
    assert output_ptr[7] = tx_end;
    assert output_ptr[8] = tx_count;
    assert output_ptr[9] = commitment_start;
    assert output_ptr[10] = commitment_end;
    assert output_ptr[11] = l1_end - l1_start;
    local l2_size = l2_end - l2_start;
    assert l1_end[0] = l2_size;
    memcpy(l1_end + 1, l2_start, l2_size);
    let output_ptr = l1_end + 1 + l2_size;
    return ();
}

// Checks the range's `n` signature records at once; the batch's hints start at `hints`
// (none without signatures: nothing to check). Returns where the hints end. The batch's
// transcript starts from H_many(root_start, commitment_start, commitment_end): every record's
// message is a transaction hash of the chain from commitment_start to commitment_end, and
// every public key is a start state's, fixed by root_start (pass 2 checks the start leaves
// against it), or a deploy's of this range, in its transaction hash (docs/sequencer.md, "A
// transcript of what is not bound yet").
func verify_signatures{range_check_ptr, poseidon_ptr: PoseidonBuiltin*}(
    n, records: felt*, hints: felt*, root_start, commitment_start, commitment_end
) -> felt* {
    if (n == 0) {
        return hints;
    }
    let (s0, s1, s2) = absorb(0, 0, 0, root_start, commitment_start);
    let (s0, s1, s2) = absorb(s0, s1, s2, commitment_end, 1);
    return verify_ecdsa_batch(n, records, hints, s0);
}

// Copies the accounts' start states into versions index..n-1 and checks that the addresses
// strictly increase (no account twice) and lie in [1, ADDRESS_BOUND); (previous_high,
// previous_low) is the previous address, (0, 0) before the first.
func load_accounts{range_check_ptr}(
    accounts: Account*, versions: Version*, index, n, previous_high, previous_low
) {
    if (index == n) {
        return less_than(previous_high, previous_low, ADDRESS_BOUND_HIGH, ADDRESS_BOUND_LOW);
    }
    tempvar account: Account* = accounts + index * Account.SIZE;
    // address = high * 2^128 + low with low < 2^128 and high < 2^123: the split is the
    // integer one, so addresses compare as (high, low).
    assert [range_check_ptr] = account.low;
    assert [range_check_ptr + 1] = account.high;
    assert [range_check_ptr + 2] = account.high + (U128 - 2 ** 123);
    let range_check_ptr = range_check_ptr + 3;
    assert account.address = account.high * U128 + account.low;
    tempvar version: Version* = versions + index * Version.SIZE;
    assert version.account = index;
    assert version.class_hash = account.class_hash;
    assert version.public_key = account.public_key;
    assert version.balance = account.balance;
    assert version.nonce = account.nonce;
    less_than(previous_high, previous_low, account.high, account.low);
    let account: Account* = accounts + index * Account.SIZE;
    return load_accounts(accounts, versions, index + 1, n, account.high, account.low);
}

// Fails unless (high_a, low_a) < (high_b, low_b), for highs below 2^123 and lows below 2^128.
func less_than{range_check_ptr}(high_a, low_a, high_b, low_b) {
    if (high_a == high_b) {
        assert [range_check_ptr] = low_b - low_a - 1;
    } else {
        assert [range_check_ptr] = high_b - high_a - 1;
    }
    let range_check_ptr = range_check_ptr + 1;
    return ();
}

// Executes `n` transactions from `tx`; version `id` is the next to create. Returns where the
// transactions end, the number of versions and the chained tx commitment.
func execute_txs{
    range_check_ptr, poseidon_ptr: PoseidonBuiltin*, l1: felt*, l2: felt*, sig: felt*
}(accounts: Account*, versions: Version*, tx: felt*, n, id, commitment) -> (
    tx_end: felt*, n_versions: felt, commitment: felt
) {
    alloc_locals;
    if (n == 0) {
        return (tx_end=tx, n_versions=id, commitment=commitment);
    }
    let kind = tx[0];
    if (kind == TRANSFER) {
        let (hash, used) = transfer(accounts, versions, tx, id);
        local used = used;
        let commitment = hash2(commitment, hash);
        return execute_txs(accounts, versions, tx + TRANSFER_SIZE, n - 1, id + used, commitment);
    }
    if (kind == DEPLOY_ACCOUNT) {
        let hash = deploy_account(accounts, versions, tx, id);
        let commitment = hash2(commitment, hash);
        return execute_txs(accounts, versions, tx + DEPLOY_ACCOUNT_SIZE, n - 1, id + 1, commitment);
    }
    if (kind == WITHDRAW) {
        let hash = withdraw(accounts, versions, tx, id);
        let commitment = hash2(commitment, hash);
        return execute_txs(accounts, versions, tx + WITHDRAW_SIZE, n - 1, id + 1, commitment);
    }
    assert kind = DEPOSIT;
    let hash = deposit(accounts, versions, tx, id);
    let commitment = hash2(commitment, hash);
    return execute_txs(accounts, versions, tx + DEPOSIT_SIZE, n - 1, id + 1, commitment);
}

// Takes version `prev` of the account at `address` as the predecessor of the new version
// `id` and returns it.
func take{range_check_ptr}(accounts: Account*, versions: Version*, prev, id, address) -> Version* {
    // 0 <= prev < id: an earlier version, so every index read is in bounds and chains have
    // no cycle.
    assert [range_check_ptr] = prev;
    assert [range_check_ptr + 1] = id - prev - 1;
    let range_check_ptr = range_check_ptr + 2;
    tempvar version: Version* = versions + prev * Version.SIZE;
    // Write-once: a version that already has a successor cannot take another.
    assert version.next = id;
    tempvar account: Account* = accounts + version.account * Account.SIZE;
    assert account.address = address;
    return version;
}

// Writes version `id`.
func put(versions: Version*, id, account, class_hash, public_key, balance, nonce) {
    tempvar version: Version* = versions + id * Version.SIZE;
    assert version.account = account;
    assert version.class_hash = class_hash;
    assert version.public_key = public_key;
    assert version.balance = balance;
    assert version.nonce = nonce;
    return ();
}

// Records that (r, s) must be the key's signature of `hash`: `ys` points at the input's
// [key_y, r_y] (the y's of the key's point and of R, which the batch check needs). The
// record is checked with all others after pass 2.
func check_signature{sig: felt*}(hash, public_key, r, s, ys: felt*) {
    assert sig[0] = hash;
    assert sig[1] = public_key;
    assert sig[2] = r;
    assert sig[3] = s;
    assert sig[4] = ys[0];
    assert sig[5] = ys[1];
    let sig = sig + SIGNATURE_SIZE;
    return ();
}

// [DEPLOY_ACCOUNT, public_key, r, s, wrapped, prev, key_y, r_y]: `wrapped` says whether the
// address hash was at least ADDRESS_BOUND (checked).
func deploy_account{range_check_ptr, poseidon_ptr: PoseidonBuiltin*, sig: felt*}(
    accounts: Account*, versions: Version*, tx: felt*, id
) -> felt {
    alloc_locals;
    let public_key = tx[1];
    let hash = hash_many4('deploy_account', TX_VERSION, CHAIN_ID, public_key);
    local hash = hash;
    let address = address_of(public_key, tx[4]);
    let account = take(accounts, versions, tx[5], id, address);
    local account: Version* = account;
    // Not deployed yet (it may hold deposits).
    assert account.class_hash = 0;
    check_signature(hash, public_key, tx[2], tx[3], tx + 6);
    put(versions, id, account.account, ACCOUNT_CLASS, public_key, account.balance, 1);
    return hash;
}

// H_many("STARFARM_ADDRESS", public_key) mod ADDRESS_BOUND. The hash is below PRIME <
// 2 * ADDRESS_BOUND, so the remainder is the hash or the hash minus ADDRESS_BOUND; `wrapped`
// says which. The caller matches the result with an account address, which lies in
// [1, ADDRESS_BOUND): that proves `wrapped = 0` right, and a wrapped result must lie below
// WRAP_LIMIT for the hash to have been at least ADDRESS_BOUND.
func address_of{range_check_ptr, poseidon_ptr: PoseidonBuiltin*}(public_key, wrapped) -> felt {
    let hash = hash_many2('STARFARM_ADDRESS', public_key);
    if (wrapped == 0) {
        return hash;
    }
    assert wrapped = 1;
    tempvar address = hash - ADDRESS_BOUND;
    assert_lt_felt(address, WRAP_LIMIT);
    return address;
}

// [TRANSFER, sender, nonce, recipient, amount, r, s, status, prev_sender, prev_recipient,
// key_y, r_y] (prev_recipient is ignored for a transfer to oneself). Returns the hash and the
// number of versions created.
func transfer{range_check_ptr, poseidon_ptr: PoseidonBuiltin*, sig: felt*}(
    accounts: Account*, versions: Version*, tx: felt*, id
) -> (hash: felt, n_versions: felt) {
    alloc_locals;
    let sender = tx[1];
    let nonce = tx[2];
    let recipient = tx[3];
    let amount = tx[4];
    let status = tx[7];
    let hash = hash_many7('transfer', TX_VERSION, CHAIN_ID, sender, nonce, recipient, amount);
    local hash = hash;
    assert [range_check_ptr] = amount;
    let range_check_ptr = range_check_ptr + 1;
    let from_ = take(accounts, versions, tx[8], id, sender);
    local from_: Version* = from_;
    assert from_.class_hash = ACCOUNT_CLASS;
    assert from_.nonce = nonce;
    check_signature(hash, from_.public_key, tx[5], tx[6], tx + 10);
    local balance = from_.balance;

    if (sender == recipient) {
        // Only the nonce changes; the status still says whether the amount was available.
        if (status == SUCCEEDED) {
            assert [range_check_ptr] = balance - amount;
        } else {
            assert status = INSUFFICIENT_BALANCE;
            assert [range_check_ptr] = amount - balance - 1;
        }
        let range_check_ptr = range_check_ptr + 1;
        put(versions, id, from_.account, ACCOUNT_CLASS, from_.public_key, balance, nonce + 1);
        return (hash=hash, n_versions=1);
    }

    let to = take(accounts, versions, tx[9], id + 1, recipient);
    local to: Version* = to;
    local to_balance = to.balance;
    if (status == SUCCEEDED) {
        assert [range_check_ptr] = balance - amount;
        assert [range_check_ptr + 1] = to_balance + amount;
        let range_check_ptr = range_check_ptr + 2;
        put(versions, id, from_.account, ACCOUNT_CLASS, from_.public_key, balance - amount, nonce + 1);
        put(versions, id + 1, to.account, to.class_hash, to.public_key, to_balance + amount, to.nonce);
        return (hash=hash, n_versions=2);
    }
    if (status == INSUFFICIENT_BALANCE) {
        assert [range_check_ptr] = amount - balance - 1;
        tempvar range_check_ptr = range_check_ptr + 1;
    } else {
        assert status = BALANCE_OVERFLOW;
        assert [range_check_ptr] = balance - amount;
        assert [range_check_ptr + 1] = to_balance + amount - U128;
        tempvar range_check_ptr = range_check_ptr + 2;
    }
    // Reverted: only the sender's nonce changes.
    put(versions, id, from_.account, ACCOUNT_CLASS, from_.public_key, balance, nonce + 1);
    put(versions, id + 1, to.account, to.class_hash, to.public_key, to_balance, to.nonce);
    return (hash=hash, n_versions=2);
}

// [WITHDRAW, sender, nonce, l1_recipient, amount, r, s, status, prev_sender, key_y, r_y]
func withdraw{range_check_ptr, poseidon_ptr: PoseidonBuiltin*, l1: felt*, sig: felt*}(accounts: Account*, versions: Version*, tx: felt*, id) -> felt {
    alloc_locals;
    let sender = tx[1];
    let nonce = tx[2];
    let l1_recipient = tx[3];
    let amount = tx[4];
    let status = tx[7];
    let hash = hash_many7('withdraw', TX_VERSION, CHAIN_ID, sender, nonce, l1_recipient, amount);
    local hash = hash;
    assert [range_check_ptr] = amount;
    let range_check_ptr = range_check_ptr + 1;
    let from_ = take(accounts, versions, tx[8], id, sender);
    local from_: Version* = from_;
    assert from_.class_hash = ACCOUNT_CLASS;
    assert from_.nonce = nonce;
    check_signature(hash, from_.public_key, tx[5], tx[6], tx + 9);
    local balance = from_.balance;
    if (status == SUCCEEDED) {
        assert [range_check_ptr] = balance - amount;
        let range_check_ptr = range_check_ptr + 1;
        put(versions, id, from_.account, ACCOUNT_CLASS, from_.public_key, balance - amount, nonce + 1);
        // The L2→L1 message (from, to, payload_size, payload).
        assert l1[0] = sender;
        assert l1[1] = l1_recipient;
        assert l1[2] = 1;
        assert l1[3] = amount;
        let l1 = l1 + 4;
        return hash;
    }
    assert status = INSUFFICIENT_BALANCE;
    assert [range_check_ptr] = amount - balance - 1;
    let range_check_ptr = range_check_ptr + 1;
    put(versions, id, from_.account, ACCOUNT_CLASS, from_.public_key, balance, nonce + 1);
    return hash;
}

// [DEPOSIT, l1_sender, recipient, amount, l1_nonce, status, prev_recipient]
func deposit{range_check_ptr, poseidon_ptr: PoseidonBuiltin*, l2: felt*}(
    accounts: Account*, versions: Version*, tx: felt*, id
) -> felt {
    alloc_locals;
    let l1_sender = tx[1];
    let recipient = tx[2];
    let amount = tx[3];
    let l1_nonce = tx[4];
    let status = tx[5];
    let hash = hash_many7('deposit', TX_VERSION, CHAIN_ID, l1_sender, recipient, amount, l1_nonce);
    local hash = hash;
    assert [range_check_ptr] = amount;
    let range_check_ptr = range_check_ptr + 1;
    let to = take(accounts, versions, tx[6], id, recipient);
    local to: Version* = to;
    // The consumed L1→L2 message (from, to, nonce, selector, payload_size, payload), reverted
    // or not.
    assert l2[0] = l1_sender;
    assert l2[1] = recipient;
    assert l2[2] = l1_nonce;
    assert l2[3] = 'deposit';
    assert l2[4] = 1;
    assert l2[5] = amount;
    let l2 = l2 + 6;
    if (status == SUCCEEDED) {
        assert [range_check_ptr] = to.balance + amount;
        let range_check_ptr = range_check_ptr + 1;
        put(versions, id, to.account, to.class_hash, to.public_key, to.balance + amount, to.nonce);
        return hash;
    }
    assert status = BALANCE_OVERFLOW;
    assert [range_check_ptr] = to.balance + amount - U128;
    let range_check_ptr = range_check_ptr + 1;
    put(versions, id, to.account, to.class_hash, to.public_key, to.balance, to.nonce);
    return hash;
}

// Pass 2, first part: each account's leaf at the range start and at its final version.
// `finals[index]` is account index's final version. An account present at the start (old
// leaf not 0) goes to `present` (updated in place by `shared_update`), an absent one to
// `absent` (inserted by `update_account`), both in address order. Returns their ends.
func account_leaves{range_check_ptr, poseidon_ptr: PoseidonBuiltin*}(
    accounts: Account*,
    versions: Version*,
    n_versions,
    index,
    n_accounts,
    finals: felt*,
    present: Leaf*,
    absent: Leaf*,
) -> (present: Leaf*, absent: Leaf*) {
    alloc_locals;
    if (index == n_accounts) {
        return (present=present, absent=absent);
    }
    local final_id = finals[index];
    assert [range_check_ptr] = final_id;
    assert [range_check_ptr + 1] = n_versions - final_id - 1;
    let range_check_ptr = range_check_ptr + 2;
    local start: Version* = versions + index * Version.SIZE;
    local final: Version* = versions + final_id * Version.SIZE;
    // The final version is this account's and has no successor: the end of its chain.
    assert final.account = index;
    assert final.next = END;
    let old_leaf = leaf(start.class_hash, start.public_key, start.balance, start.nonce);
    local old_leaf = old_leaf;
    let new_leaf = leaf(final.class_hash, final.public_key, final.balance, final.nonce);
    local address = accounts[index].address;
    if (old_leaf == 0) {
        assert [absent] = Leaf(address=address, before=0, after=new_leaf);
        return account_leaves(
            accounts, versions, n_versions, index + 1, n_accounts, finals, present, absent + Leaf.SIZE
        );
    }
    assert [present] = Leaf(address=address, before=old_leaf, after=new_leaf);
    return account_leaves(
        accounts, versions, n_versions, index + 1, n_accounts, finals, present + Leaf.SIZE, absent
    );
}

// Pass 2, second part: the present accounts' leaves replaced in one pass over the union of
// their paths (records pre-order from the root, `SHARED_*` below), each node of the union
// hashed once before and once after. `node`: the subtree at `height` whose key bits above it
// are `key` (2^height times the prefix); `leaf`: the next present account (address order).
// Returns where its records end, its hashes before and after, and the next account.
//
// Soundness (docs/sequencer.md, "One pass over the union of the paths"): the caller checks
// that `before` of the root is the current root. Edge lengths are range-checked to
// [1, height], so, as in `update_account`, matching the root means the records are the real
// nodes of the trie on the way; a leaf is reached exactly at height 0 and its key, rebuilt from
// the bits taken, must be the next account's address. The traversal visits leaves left to
// right, so the accounts are consumed in increasing key order, each once; the caller checks
// that all were consumed. Present accounts stay present, so the trie's shape does not change
// and `after` is the root of the same nodes with the new leaves.
func shared_update{range_check_ptr, poseidon_ptr: PoseidonBuiltin*}(
    node: felt*, height, key, leaf: Leaf*, pow2: felt*
) -> (end: felt*, before: felt, after: felt, leaf: Leaf*) {
    alloc_locals;
    if (height == 0) {
        assert leaf.address = key;
        return (end=node, before=leaf.before, after=leaf.after, leaf=leaf + Leaf.SIZE);
    }
    local kind = node[0];
    if (kind == SHARED_BOTH) {
        let (end, left_before, left_after, leaf) = shared_update(
            node + 1, height - 1, key, leaf, pow2
        );
        local left_before = left_before;
        local left_after = left_after;
        let (end, right_before, right_after, leaf) = shared_update(
            end, height - 1, key + pow2[height - 1], leaf, pow2
        );
        local end: felt* = end;
        local leaf: Leaf* = leaf;
        assert poseidon_ptr[0].input = PoseidonBuiltinState(s0=left_before, s1=right_before, s2=2);
        assert poseidon_ptr[1].input = PoseidonBuiltinState(s0=left_after, s1=right_after, s2=2);
        let before = poseidon_ptr[0].output.s0;
        let after = poseidon_ptr[1].output.s0;
        let poseidon_ptr = poseidon_ptr + 2 * PoseidonBuiltin.SIZE;
        return (end=end, before=before, after=after, leaf=leaf);
    }
    if (kind == SHARED_LEFT) {
        // Accounts only below the left child; the right one is node[1].
        let (end, child_before, child_after, leaf) = shared_update(
            node + 2, height - 1, key, leaf, pow2
        );
        assert poseidon_ptr[0].input = PoseidonBuiltinState(s0=child_before, s1=node[1], s2=2);
        assert poseidon_ptr[1].input = PoseidonBuiltinState(s0=child_after, s1=node[1], s2=2);
        let before = poseidon_ptr[0].output.s0;
        let after = poseidon_ptr[1].output.s0;
        let poseidon_ptr = poseidon_ptr + 2 * PoseidonBuiltin.SIZE;
        return (end=end, before=before, after=after, leaf=leaf);
    }
    if (kind == SHARED_RIGHT) {
        // Accounts only below the right child; the left one is node[1].
        let (end, child_before, child_after, leaf) = shared_update(
            node + 2, height - 1, key + pow2[height - 1], leaf, pow2
        );
        assert poseidon_ptr[0].input = PoseidonBuiltinState(s0=node[1], s1=child_before, s2=2);
        assert poseidon_ptr[1].input = PoseidonBuiltinState(s0=node[1], s1=child_after, s2=2);
        let before = poseidon_ptr[0].output.s0;
        let after = poseidon_ptr[1].output.s0;
        let poseidon_ptr = poseidon_ptr + 2 * PoseidonBuiltin.SIZE;
        return (end=end, before=before, after=after, leaf=leaf);
    }
    // An edge the keys below follow: [SHARED_EDGE, path, length], 1 <= length <= height.
    assert kind = SHARED_EDGE;
    local path = node[1];
    local length = node[2];
    assert [range_check_ptr] = length - 1;
    assert [range_check_ptr + 1] = height - length;
    let range_check_ptr = range_check_ptr + 2;
    let (end, child_before, child_after, leaf) = shared_update(
        node + 3, height - length, key + path * pow2[height - length], leaf, pow2
    );
    assert poseidon_ptr[0].input = PoseidonBuiltinState(s0=child_before, s1=path, s2=2);
    assert poseidon_ptr[1].input = PoseidonBuiltinState(s0=child_after, s1=path, s2=2);
    let before = poseidon_ptr[0].output.s0 + length;
    let after = poseidon_ptr[1].output.s0 + length;
    let poseidon_ptr = poseidon_ptr + 2 * PoseidonBuiltin.SIZE;
    return (end=end, before=before, after=after, leaf=leaf);
}

// The present accounts' update (`shared_update`) from `root`; none: no records, the same root.
func update_present{range_check_ptr, poseidon_ptr: PoseidonBuiltin*}(
    data: felt*, present: Leaf*, present_end: Leaf*, root, pow2: felt*
) -> (root: felt, data_end: felt*) {
    if (present == present_end) {
        return (root=root, data_end=data);
    }
    let (end, before, after, leaf) = shared_update(data, HEIGHT, 0, present, pow2);
    assert before = root;
    // Every present account was reached.
    assert leaf = present_end;
    return (root=after, data_end=end);
}

// Pass 2, last part: the absent accounts inserted one by one, in address order, each with its
// proof [n_nodes, nodes...] (bottom-up) against the root the previous one left.
func insert_accounts{range_check_ptr, poseidon_ptr: PoseidonBuiltin*}(
    leaf: Leaf*, leaf_end: Leaf*, tables: Tables*, root, data: felt*
) -> (root: felt, data_end: felt*) {
    if (leaf == leaf_end) {
        return (root=root, data_end=data);
    }
    let (new_root, end) = update_account(
        address=leaf.address,
        old_leaf=0,
        new_leaf=leaf.after,
        root=root,
        node=data + 1,
        n=data[0],
        tables=tables,
    );
    return insert_accounts(leaf + Leaf.SIZE, leaf_end, tables, new_root, end);
}

// Checks `address`'s proof (n nodes from `node`, bottom-up) of `old_leaf` against `root` and
// returns the root with `new_leaf` instead, and where the nodes end.
//
// Soundness: the climb checks that the hashes it computes from the bottom with the old leaf
// reach `root`, a root only well-formed tries have (the empty trie, or one this program
// computed). An edge's hash adds its length to a hash instead of hashing it, so lengths are
// range-checked to [1, HEIGHT]: with any length allowed, any (child, path) would match a
// given hash. With lengths bounded, matching the root means knowing the real nodes, whose
// paths are those of a real trie (path < 2^length). `power` = 2^height (height: the key bits
// below the current node) must end at 2^251 (2 has order > 2^247 and the height stays far
// below that), and the key bits taken (the binary nodes' kinds, the edges' paths) must spell
// the address: the proof follows the address's path from the root to its leaf. Accounts
// never become empty again, so no leaf is deleted: `new_leaf` is 0 only for an absent account
// that stays absent, and then the root does not change.
func update_account{range_check_ptr, poseidon_ptr: PoseidonBuiltin*}(
    address, old_leaf, new_leaf, root, node: felt*, n, tables: Tables*
) -> (root: felt, end: felt*) {
    alloc_locals;
    if (n == 0) {
        // The empty trie (root 0) gets its first leaf: an edge of length HEIGHT to it.
        assert root = 0;
        assert old_leaf = 0;
        if (new_leaf == 0) {
            return (root=0, end=node);
        }
        let hash = hash2(new_leaf, address);
        return (root=hash + HEIGHT, end=node);
    }
    if (node[0] == EDGE_LEAVES) {
        let (before, after, key, power) = leave_edge(node, old_leaf, new_leaf, tables);
        let (end, before, after, key, power) = climb(
            node + EDGE_LEAVES_SIZE, n - 1, before, after, key, power, tables.pow2
        );
        assert power = 2 ** HEIGHT;
        assert key = address;
        assert before = root;
        return (root=after, end=end);
    }
    let (end, before, after, key, power) = climb(node, n, old_leaf, new_leaf, 0, 1, tables.pow2);
    assert power = 2 ** HEIGHT;
    assert key = address;
    assert before = root;
    return (root=after, end=end);
}

// Climbs n proof nodes from `node`: `before`/`after` are the hashes (before/after the update) of
// the subtree the next node's path leads to, `key` the key bits below it and `power`
// 2^(their number). Records: binary [bit, sibling] (bit: the key's bit there), edge
// [EDGE, path, length]. Returns the values above the last node.
func climb{range_check_ptr, poseidon_ptr: PoseidonBuiltin*}(
    node: felt*, n, before, after, key, power, pow2: felt*
) -> (end: felt*, before: felt, after: felt, key: felt, power: felt) {
    alloc_locals;
    local two = 2;
    tempvar node = node;
    tempvar n = n;
    tempvar before = before;
    tempvar after = after;
    tempvar key = key;
    tempvar power = power;
    tempvar poseidon_ptr = poseidon_ptr;
    tempvar range_check_ptr = range_check_ptr;

    loop:
    jmp body if n != 0;
    return (end=node, before=before, after=after, key=key, power=power);

    body:
    tempvar kind = node[0];
    jmp not_left if kind != 0;
    // A binary node whose left child is on the path.
    tempvar sibling = node[1];
    assert poseidon_ptr[0].input.s0 = before;
    assert poseidon_ptr[0].input.s1 = sibling;
    assert poseidon_ptr[0].input.s2 = two;
    assert poseidon_ptr[1].input.s0 = after;
    assert poseidon_ptr[1].input.s1 = sibling;
    assert poseidon_ptr[1].input.s2 = two;
    tempvar node = node + BINARY_SIZE;
    tempvar n = n - 1;
    tempvar before = poseidon_ptr[0].output.s0;
    tempvar after = poseidon_ptr[1].output.s0;
    tempvar key = key;
    tempvar power = power * 2;
    tempvar poseidon_ptr = poseidon_ptr + 2 * PoseidonBuiltin.SIZE;
    tempvar range_check_ptr = range_check_ptr;
    jmp loop;

    not_left:
    tempvar not_right = kind - 1;
    jmp edge if not_right != 0;
    // A binary node whose right child is on the path.
    tempvar sibling = node[1];
    assert poseidon_ptr[0].input.s0 = sibling;
    assert poseidon_ptr[0].input.s1 = before;
    assert poseidon_ptr[0].input.s2 = two;
    assert poseidon_ptr[1].input.s0 = sibling;
    assert poseidon_ptr[1].input.s1 = after;
    assert poseidon_ptr[1].input.s2 = two;
    tempvar node = node + BINARY_SIZE;
    tempvar n = n - 1;
    tempvar before = poseidon_ptr[0].output.s0;
    tempvar after = poseidon_ptr[1].output.s0;
    tempvar key = key + power;
    tempvar power = power * 2;
    tempvar poseidon_ptr = poseidon_ptr + 2 * PoseidonBuiltin.SIZE;
    tempvar range_check_ptr = range_check_ptr;
    jmp loop;

    edge:
    // An edge the key follows: 1 <= length <= HEIGHT.
    assert kind = EDGE;
    tempvar path = node[1];
    tempvar length = node[2];
    assert [range_check_ptr] = length - 1;
    assert [range_check_ptr + 1] = HEIGHT - length;
    assert poseidon_ptr[0].input.s0 = before;
    assert poseidon_ptr[0].input.s1 = path;
    assert poseidon_ptr[0].input.s2 = two;
    assert poseidon_ptr[1].input.s0 = after;
    assert poseidon_ptr[1].input.s1 = path;
    assert poseidon_ptr[1].input.s2 = two;
    tempvar bits = path * power;
    tempvar edge_power = pow2[length];
    tempvar before_hash = poseidon_ptr[0].output.s0;
    tempvar after_hash = poseidon_ptr[1].output.s0;
    // The loop's variables, pushed in order (each a single instruction).
    tempvar node = node + EDGE_SIZE;
    tempvar n = n - 1;
    tempvar before = before_hash + length;
    tempvar after = after_hash + length;
    tempvar key = key + bits;
    tempvar power = power * edge_power;
    tempvar poseidon_ptr = poseidon_ptr + 2 * PoseidonBuiltin.SIZE;
    tempvar range_check_ptr = range_check_ptr + 2;
    jmp loop;
}

// The bottom of an absence proof: the edge the key leaves, [EDGE_LEAVES, child, path, length,
// common, bit, new_length, common_path_high, common_path_low, old_rest_high, old_rest_low,
// new_rest_high, new_rest_low]. The edge's path is common_path (`common` bits the key
// shares), then `bit` (the key has 1 - bit), then old_rest (length - common - 1 bits); the
// key's new_length bits below its differing bit are new_rest. Returns the edge's hash before
// and after inserting the leaf, the key bits below the edge's parent and 2^(their number).
// Inserting makes edge(common_path) -> binary(edge(old_rest) -> child, edge(new_rest) -> new
// leaf), where an edge of length 0 is no node.
func leave_edge{range_check_ptr, poseidon_ptr: PoseidonBuiltin*}(
    node: felt*, old_leaf, new_leaf, tables: Tables*
) -> (before: felt, after: felt, key: felt, power: felt) {
    alloc_locals;
    let child = node[1];
    let path = node[2];
    let length = node[3];
    let common = node[4];
    let bit = node[5];
    let new_length = node[6];
    // The key is absent.
    assert old_leaf = 0;
    assert bit * bit = bit;
    // 1 <= length <= HEIGHT, 0 <= common < length, 0 <= new_length and
    // common + 1 + new_length <= HEIGHT (the height of the edge's parent).
    assert [range_check_ptr] = length - 1;
    assert [range_check_ptr + 1] = HEIGHT - length;
    assert [range_check_ptr + 2] = common;
    assert [range_check_ptr + 3] = length - common - 1;
    assert [range_check_ptr + 4] = new_length;
    assert [range_check_ptr + 5] = HEIGHT - 1 - common - new_length;
    let range_check_ptr = range_check_ptr + 6;
    local old_length = length - common - 1;
    let common_path = bounded(node[7], node[8], common, tables);
    local common_path = common_path;
    let old_rest = bounded(node[9], node[10], old_length, tables);
    local old_rest = old_rest;
    let new_rest = bounded(node[11], node[12], new_length, tables);
    local new_rest = new_rest;
    let pow2 = tables.pow2;
    // Bounded integers whose sums stay below 2^251 < PRIME: integer identities, so the key
    // and the path agree on `common` bits and then differ.
    assert path = common_path * pow2[length - common] + bit * pow2[old_length] + old_rest;
    local key = common_path * pow2[new_length + 1] + (1 - bit) * pow2[new_length] + new_rest;
    local power = pow2[common + 1 + new_length];
    let hash = hash2(child, path);
    local before = hash + length;
    if (new_leaf == 0) {
        // Absent and still absent: nothing changes.
        return (before=before, after=before, key=key, power=power);
    }
    let old_side = edge(child, old_rest, old_length);
    local old_side = old_side;
    let new_side = edge(new_leaf, new_rest, new_length);
    if (bit == 0) {
        let fork = hash2(old_side, new_side);
        let after = edge(fork, common_path, common);
        return (before=before, after=after, key=key, power=power);
    }
    let fork = hash2(new_side, old_side);
    let after = edge(fork, common_path, common);
    return (before=before, after=after, key=key, power=power);
}

// high * 2^128 + low, after checking that it is below 2^m (0 <= m <= HEIGHT): high and low
// are below 2^128, high below HIGH_BOUND[m], low below LOW_BOUND[m].
func bounded{range_check_ptr}(high, low, m, tables: Tables*) -> felt {
    assert [range_check_ptr] = high;
    assert [range_check_ptr + 1] = low;
    assert [range_check_ptr + 2] = high + U128 - tables.high_bound[m];
    assert [range_check_ptr + 3] = low + U128 - tables.low_bound[m];
    let range_check_ptr = range_check_ptr + 4;
    return high * U128 + low;
}

// The hash of an edge of `length` bits over `child`, or `child` itself if length is 0.
func edge{poseidon_ptr: PoseidonBuiltin*}(child, path, length) -> felt {
    if (length == 0) {
        return child;
    }
    let hash = hash2(child, path);
    return hash + length;
}

// The contracts-trie leaf of an account: H(H(H(class_hash, storage_root), nonce), 0), or 0
// for an empty account; storage_root is that of {0: public_key, 1: balance}
// (docs/sequencer.md, "State").
func leaf{poseidon_ptr: PoseidonBuiltin*}(class_hash, public_key, balance, nonce) -> felt {
    if (public_key == 0) {
        return leaf_without_key(class_hash, balance, nonce);
    }
    if (balance == 0) {
        let hash = hash2(public_key, 0);
        return leaf_of(class_hash, hash + 251, nonce);
    }
    // Both slots set: storage root H(H(public_key, balance), 0) + 250.
    assert poseidon_ptr[0].input = PoseidonBuiltinState(s0=public_key, s1=balance, s2=2);
    assert poseidon_ptr[1].input = PoseidonBuiltinState(
        s0=poseidon_ptr[0].output.s0, s1=0, s2=2
    );
    assert poseidon_ptr[2].input = PoseidonBuiltinState(
        s0=class_hash, s1=poseidon_ptr[1].output.s0 + 250, s2=2
    );
    assert poseidon_ptr[3].input = PoseidonBuiltinState(
        s0=poseidon_ptr[2].output.s0, s1=nonce, s2=2
    );
    assert poseidon_ptr[4].input = PoseidonBuiltinState(s0=poseidon_ptr[3].output.s0, s1=0, s2=2);
    let res = poseidon_ptr[4].output.s0;
    let poseidon_ptr = poseidon_ptr + 5 * PoseidonBuiltin.SIZE;
    return res;
}

func leaf_without_key{poseidon_ptr: PoseidonBuiltin*}(class_hash, balance, nonce) -> felt {
    if (balance == 0) {
        if (class_hash == 0) {
            if (nonce == 0) {
                // Empty: absent from the trie.
                return 0;
            }
        }
        return leaf_of(class_hash, 0, nonce);
    }
    let hash = hash2(balance, 1);
    return leaf_of(class_hash, hash + 251, nonce);
}

// H(H(H(class_hash, storage_root), nonce), 0).
func leaf_of{poseidon_ptr: PoseidonBuiltin*}(class_hash, storage_root, nonce) -> felt {
    let a = hash2(class_hash, storage_root);
    let b = hash2(a, nonce);
    let c = hash2(b, 0);
    return c;
}

// H_many("STARKNET_STATE_V0", contracts_root, 0).
func global_root{poseidon_ptr: PoseidonBuiltin*}(contracts_root) -> felt {
    let (s0, s1, s2) = absorb(0, 0, 0, 'STARKNET_STATE_V0', contracts_root);
    let (s0, s1, s2) = absorb(s0, s1, s2, 0, 1);
    return s0;
}

// The block hash if this range ends the block, else 0.
func block_hash_if_last{poseidon_ptr: PoseidonBuiltin*}(
    number, parent_hash, timestamp, state_root, tx_end, tx_count, commitment
) -> felt {
    if (tx_end == tx_count) {
        let hash = hash_many7(
            'STARFARM_BLOCK_V1', number, parent_hash, timestamp, state_root, tx_count, commitment
        );
        return hash;
    }
    return 0;
}

// Poseidon of two felts (Cairo's `poseidon_hash`, starknet-crypto's `poseidon_hash`).
func hash2{poseidon_ptr: PoseidonBuiltin*}(x, y) -> felt {
    assert poseidon_ptr.input = PoseidonBuiltinState(s0=x, s1=y, s2=2);
    let res = poseidon_ptr.output.s0;
    let poseidon_ptr = poseidon_ptr + PoseidonBuiltin.SIZE;
    return res;
}

// One step of the Poseidon sponge (rate 2): permutes (s0 + a, s1 + b, s2). `poseidon_hash_many`
// absorbs pairs from a zero state, then pads with [1] (odd count) or [1, 0] (even count).
func absorb{poseidon_ptr: PoseidonBuiltin*}(s0, s1, s2, a, b) -> (s0: felt, s1: felt, s2: felt) {
    assert poseidon_ptr.input = PoseidonBuiltinState(s0=s0 + a, s1=s1 + b, s2=s2);
    let out = poseidon_ptr.output;
    let poseidon_ptr = poseidon_ptr + PoseidonBuiltin.SIZE;
    return (s0=out.s0, s1=out.s1, s2=out.s2);
}

// poseidon_hash_many of 2 felts.
func hash_many2{poseidon_ptr: PoseidonBuiltin*}(a, b) -> felt {
    let (s0, s1, s2) = absorb(0, 0, 0, a, b);
    let (s0, s1, s2) = absorb(s0, s1, s2, 1, 0);
    return s0;
}

// poseidon_hash_many of 4 felts.
func hash_many4{poseidon_ptr: PoseidonBuiltin*}(a, b, c, d) -> felt {
    let (s0, s1, s2) = absorb(0, 0, 0, a, b);
    let (s0, s1, s2) = absorb(s0, s1, s2, c, d);
    let (s0, s1, s2) = absorb(s0, s1, s2, 1, 0);
    return s0;
}

// poseidon_hash_many of 7 felts, the sponge written out.
func hash_many7{poseidon_ptr: PoseidonBuiltin*}(a, b, c, d, e, f, g) -> felt {
    assert poseidon_ptr[0].input = PoseidonBuiltinState(s0=a, s1=b, s2=0);
    assert poseidon_ptr[1].input = PoseidonBuiltinState(
        s0=poseidon_ptr[0].output.s0 + c,
        s1=poseidon_ptr[0].output.s1 + d,
        s2=poseidon_ptr[0].output.s2,
    );
    assert poseidon_ptr[2].input = PoseidonBuiltinState(
        s0=poseidon_ptr[1].output.s0 + e,
        s1=poseidon_ptr[1].output.s1 + f,
        s2=poseidon_ptr[1].output.s2,
    );
    assert poseidon_ptr[3].input = PoseidonBuiltinState(
        s0=poseidon_ptr[2].output.s0 + g,
        s1=poseidon_ptr[2].output.s1 + 1,
        s2=poseidon_ptr[2].output.s2,
    );
    let res = poseidon_ptr[3].output.s0;
    let poseidon_ptr = poseidon_ptr + 4 * PoseidonBuiltin.SIZE;
    return res;
}

// Tables for key arithmetic, indexed by m in [0, 251] (generated; do not edit by hand):
// POW2[m] = 2^m; HIGH_BOUND[m] = 2^max(m - 128, 0); LOW_BOUND[m] = 2^min(m, 128).
func pow2_tables() -> (pow2: felt*, high_bound: felt*, low_bound: felt*) {
    let (pow2) = get_label_location(pow2_data);
    let (high_bound) = get_label_location(high_bound_data);
    let (low_bound) = get_label_location(low_bound_data);
    return (pow2=pow2, high_bound=high_bound, low_bound=low_bound);

    pow2_data:
    dw 2 ** 0;
    dw 2 ** 1;
    dw 2 ** 2;
    dw 2 ** 3;
    dw 2 ** 4;
    dw 2 ** 5;
    dw 2 ** 6;
    dw 2 ** 7;
    dw 2 ** 8;
    dw 2 ** 9;
    dw 2 ** 10;
    dw 2 ** 11;
    dw 2 ** 12;
    dw 2 ** 13;
    dw 2 ** 14;
    dw 2 ** 15;
    dw 2 ** 16;
    dw 2 ** 17;
    dw 2 ** 18;
    dw 2 ** 19;
    dw 2 ** 20;
    dw 2 ** 21;
    dw 2 ** 22;
    dw 2 ** 23;
    dw 2 ** 24;
    dw 2 ** 25;
    dw 2 ** 26;
    dw 2 ** 27;
    dw 2 ** 28;
    dw 2 ** 29;
    dw 2 ** 30;
    dw 2 ** 31;
    dw 2 ** 32;
    dw 2 ** 33;
    dw 2 ** 34;
    dw 2 ** 35;
    dw 2 ** 36;
    dw 2 ** 37;
    dw 2 ** 38;
    dw 2 ** 39;
    dw 2 ** 40;
    dw 2 ** 41;
    dw 2 ** 42;
    dw 2 ** 43;
    dw 2 ** 44;
    dw 2 ** 45;
    dw 2 ** 46;
    dw 2 ** 47;
    dw 2 ** 48;
    dw 2 ** 49;
    dw 2 ** 50;
    dw 2 ** 51;
    dw 2 ** 52;
    dw 2 ** 53;
    dw 2 ** 54;
    dw 2 ** 55;
    dw 2 ** 56;
    dw 2 ** 57;
    dw 2 ** 58;
    dw 2 ** 59;
    dw 2 ** 60;
    dw 2 ** 61;
    dw 2 ** 62;
    dw 2 ** 63;
    dw 2 ** 64;
    dw 2 ** 65;
    dw 2 ** 66;
    dw 2 ** 67;
    dw 2 ** 68;
    dw 2 ** 69;
    dw 2 ** 70;
    dw 2 ** 71;
    dw 2 ** 72;
    dw 2 ** 73;
    dw 2 ** 74;
    dw 2 ** 75;
    dw 2 ** 76;
    dw 2 ** 77;
    dw 2 ** 78;
    dw 2 ** 79;
    dw 2 ** 80;
    dw 2 ** 81;
    dw 2 ** 82;
    dw 2 ** 83;
    dw 2 ** 84;
    dw 2 ** 85;
    dw 2 ** 86;
    dw 2 ** 87;
    dw 2 ** 88;
    dw 2 ** 89;
    dw 2 ** 90;
    dw 2 ** 91;
    dw 2 ** 92;
    dw 2 ** 93;
    dw 2 ** 94;
    dw 2 ** 95;
    dw 2 ** 96;
    dw 2 ** 97;
    dw 2 ** 98;
    dw 2 ** 99;
    dw 2 ** 100;
    dw 2 ** 101;
    dw 2 ** 102;
    dw 2 ** 103;
    dw 2 ** 104;
    dw 2 ** 105;
    dw 2 ** 106;
    dw 2 ** 107;
    dw 2 ** 108;
    dw 2 ** 109;
    dw 2 ** 110;
    dw 2 ** 111;
    dw 2 ** 112;
    dw 2 ** 113;
    dw 2 ** 114;
    dw 2 ** 115;
    dw 2 ** 116;
    dw 2 ** 117;
    dw 2 ** 118;
    dw 2 ** 119;
    dw 2 ** 120;
    dw 2 ** 121;
    dw 2 ** 122;
    dw 2 ** 123;
    dw 2 ** 124;
    dw 2 ** 125;
    dw 2 ** 126;
    dw 2 ** 127;
    dw 2 ** 128;
    dw 2 ** 129;
    dw 2 ** 130;
    dw 2 ** 131;
    dw 2 ** 132;
    dw 2 ** 133;
    dw 2 ** 134;
    dw 2 ** 135;
    dw 2 ** 136;
    dw 2 ** 137;
    dw 2 ** 138;
    dw 2 ** 139;
    dw 2 ** 140;
    dw 2 ** 141;
    dw 2 ** 142;
    dw 2 ** 143;
    dw 2 ** 144;
    dw 2 ** 145;
    dw 2 ** 146;
    dw 2 ** 147;
    dw 2 ** 148;
    dw 2 ** 149;
    dw 2 ** 150;
    dw 2 ** 151;
    dw 2 ** 152;
    dw 2 ** 153;
    dw 2 ** 154;
    dw 2 ** 155;
    dw 2 ** 156;
    dw 2 ** 157;
    dw 2 ** 158;
    dw 2 ** 159;
    dw 2 ** 160;
    dw 2 ** 161;
    dw 2 ** 162;
    dw 2 ** 163;
    dw 2 ** 164;
    dw 2 ** 165;
    dw 2 ** 166;
    dw 2 ** 167;
    dw 2 ** 168;
    dw 2 ** 169;
    dw 2 ** 170;
    dw 2 ** 171;
    dw 2 ** 172;
    dw 2 ** 173;
    dw 2 ** 174;
    dw 2 ** 175;
    dw 2 ** 176;
    dw 2 ** 177;
    dw 2 ** 178;
    dw 2 ** 179;
    dw 2 ** 180;
    dw 2 ** 181;
    dw 2 ** 182;
    dw 2 ** 183;
    dw 2 ** 184;
    dw 2 ** 185;
    dw 2 ** 186;
    dw 2 ** 187;
    dw 2 ** 188;
    dw 2 ** 189;
    dw 2 ** 190;
    dw 2 ** 191;
    dw 2 ** 192;
    dw 2 ** 193;
    dw 2 ** 194;
    dw 2 ** 195;
    dw 2 ** 196;
    dw 2 ** 197;
    dw 2 ** 198;
    dw 2 ** 199;
    dw 2 ** 200;
    dw 2 ** 201;
    dw 2 ** 202;
    dw 2 ** 203;
    dw 2 ** 204;
    dw 2 ** 205;
    dw 2 ** 206;
    dw 2 ** 207;
    dw 2 ** 208;
    dw 2 ** 209;
    dw 2 ** 210;
    dw 2 ** 211;
    dw 2 ** 212;
    dw 2 ** 213;
    dw 2 ** 214;
    dw 2 ** 215;
    dw 2 ** 216;
    dw 2 ** 217;
    dw 2 ** 218;
    dw 2 ** 219;
    dw 2 ** 220;
    dw 2 ** 221;
    dw 2 ** 222;
    dw 2 ** 223;
    dw 2 ** 224;
    dw 2 ** 225;
    dw 2 ** 226;
    dw 2 ** 227;
    dw 2 ** 228;
    dw 2 ** 229;
    dw 2 ** 230;
    dw 2 ** 231;
    dw 2 ** 232;
    dw 2 ** 233;
    dw 2 ** 234;
    dw 2 ** 235;
    dw 2 ** 236;
    dw 2 ** 237;
    dw 2 ** 238;
    dw 2 ** 239;
    dw 2 ** 240;
    dw 2 ** 241;
    dw 2 ** 242;
    dw 2 ** 243;
    dw 2 ** 244;
    dw 2 ** 245;
    dw 2 ** 246;
    dw 2 ** 247;
    dw 2 ** 248;
    dw 2 ** 249;
    dw 2 ** 250;
    dw 2 ** 251;

    high_bound_data:
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 0;
    dw 2 ** 1;
    dw 2 ** 2;
    dw 2 ** 3;
    dw 2 ** 4;
    dw 2 ** 5;
    dw 2 ** 6;
    dw 2 ** 7;
    dw 2 ** 8;
    dw 2 ** 9;
    dw 2 ** 10;
    dw 2 ** 11;
    dw 2 ** 12;
    dw 2 ** 13;
    dw 2 ** 14;
    dw 2 ** 15;
    dw 2 ** 16;
    dw 2 ** 17;
    dw 2 ** 18;
    dw 2 ** 19;
    dw 2 ** 20;
    dw 2 ** 21;
    dw 2 ** 22;
    dw 2 ** 23;
    dw 2 ** 24;
    dw 2 ** 25;
    dw 2 ** 26;
    dw 2 ** 27;
    dw 2 ** 28;
    dw 2 ** 29;
    dw 2 ** 30;
    dw 2 ** 31;
    dw 2 ** 32;
    dw 2 ** 33;
    dw 2 ** 34;
    dw 2 ** 35;
    dw 2 ** 36;
    dw 2 ** 37;
    dw 2 ** 38;
    dw 2 ** 39;
    dw 2 ** 40;
    dw 2 ** 41;
    dw 2 ** 42;
    dw 2 ** 43;
    dw 2 ** 44;
    dw 2 ** 45;
    dw 2 ** 46;
    dw 2 ** 47;
    dw 2 ** 48;
    dw 2 ** 49;
    dw 2 ** 50;
    dw 2 ** 51;
    dw 2 ** 52;
    dw 2 ** 53;
    dw 2 ** 54;
    dw 2 ** 55;
    dw 2 ** 56;
    dw 2 ** 57;
    dw 2 ** 58;
    dw 2 ** 59;
    dw 2 ** 60;
    dw 2 ** 61;
    dw 2 ** 62;
    dw 2 ** 63;
    dw 2 ** 64;
    dw 2 ** 65;
    dw 2 ** 66;
    dw 2 ** 67;
    dw 2 ** 68;
    dw 2 ** 69;
    dw 2 ** 70;
    dw 2 ** 71;
    dw 2 ** 72;
    dw 2 ** 73;
    dw 2 ** 74;
    dw 2 ** 75;
    dw 2 ** 76;
    dw 2 ** 77;
    dw 2 ** 78;
    dw 2 ** 79;
    dw 2 ** 80;
    dw 2 ** 81;
    dw 2 ** 82;
    dw 2 ** 83;
    dw 2 ** 84;
    dw 2 ** 85;
    dw 2 ** 86;
    dw 2 ** 87;
    dw 2 ** 88;
    dw 2 ** 89;
    dw 2 ** 90;
    dw 2 ** 91;
    dw 2 ** 92;
    dw 2 ** 93;
    dw 2 ** 94;
    dw 2 ** 95;
    dw 2 ** 96;
    dw 2 ** 97;
    dw 2 ** 98;
    dw 2 ** 99;
    dw 2 ** 100;
    dw 2 ** 101;
    dw 2 ** 102;
    dw 2 ** 103;
    dw 2 ** 104;
    dw 2 ** 105;
    dw 2 ** 106;
    dw 2 ** 107;
    dw 2 ** 108;
    dw 2 ** 109;
    dw 2 ** 110;
    dw 2 ** 111;
    dw 2 ** 112;
    dw 2 ** 113;
    dw 2 ** 114;
    dw 2 ** 115;
    dw 2 ** 116;
    dw 2 ** 117;
    dw 2 ** 118;
    dw 2 ** 119;
    dw 2 ** 120;
    dw 2 ** 121;
    dw 2 ** 122;
    dw 2 ** 123;

    low_bound_data:
    dw 2 ** 0;
    dw 2 ** 1;
    dw 2 ** 2;
    dw 2 ** 3;
    dw 2 ** 4;
    dw 2 ** 5;
    dw 2 ** 6;
    dw 2 ** 7;
    dw 2 ** 8;
    dw 2 ** 9;
    dw 2 ** 10;
    dw 2 ** 11;
    dw 2 ** 12;
    dw 2 ** 13;
    dw 2 ** 14;
    dw 2 ** 15;
    dw 2 ** 16;
    dw 2 ** 17;
    dw 2 ** 18;
    dw 2 ** 19;
    dw 2 ** 20;
    dw 2 ** 21;
    dw 2 ** 22;
    dw 2 ** 23;
    dw 2 ** 24;
    dw 2 ** 25;
    dw 2 ** 26;
    dw 2 ** 27;
    dw 2 ** 28;
    dw 2 ** 29;
    dw 2 ** 30;
    dw 2 ** 31;
    dw 2 ** 32;
    dw 2 ** 33;
    dw 2 ** 34;
    dw 2 ** 35;
    dw 2 ** 36;
    dw 2 ** 37;
    dw 2 ** 38;
    dw 2 ** 39;
    dw 2 ** 40;
    dw 2 ** 41;
    dw 2 ** 42;
    dw 2 ** 43;
    dw 2 ** 44;
    dw 2 ** 45;
    dw 2 ** 46;
    dw 2 ** 47;
    dw 2 ** 48;
    dw 2 ** 49;
    dw 2 ** 50;
    dw 2 ** 51;
    dw 2 ** 52;
    dw 2 ** 53;
    dw 2 ** 54;
    dw 2 ** 55;
    dw 2 ** 56;
    dw 2 ** 57;
    dw 2 ** 58;
    dw 2 ** 59;
    dw 2 ** 60;
    dw 2 ** 61;
    dw 2 ** 62;
    dw 2 ** 63;
    dw 2 ** 64;
    dw 2 ** 65;
    dw 2 ** 66;
    dw 2 ** 67;
    dw 2 ** 68;
    dw 2 ** 69;
    dw 2 ** 70;
    dw 2 ** 71;
    dw 2 ** 72;
    dw 2 ** 73;
    dw 2 ** 74;
    dw 2 ** 75;
    dw 2 ** 76;
    dw 2 ** 77;
    dw 2 ** 78;
    dw 2 ** 79;
    dw 2 ** 80;
    dw 2 ** 81;
    dw 2 ** 82;
    dw 2 ** 83;
    dw 2 ** 84;
    dw 2 ** 85;
    dw 2 ** 86;
    dw 2 ** 87;
    dw 2 ** 88;
    dw 2 ** 89;
    dw 2 ** 90;
    dw 2 ** 91;
    dw 2 ** 92;
    dw 2 ** 93;
    dw 2 ** 94;
    dw 2 ** 95;
    dw 2 ** 96;
    dw 2 ** 97;
    dw 2 ** 98;
    dw 2 ** 99;
    dw 2 ** 100;
    dw 2 ** 101;
    dw 2 ** 102;
    dw 2 ** 103;
    dw 2 ** 104;
    dw 2 ** 105;
    dw 2 ** 106;
    dw 2 ** 107;
    dw 2 ** 108;
    dw 2 ** 109;
    dw 2 ** 110;
    dw 2 ** 111;
    dw 2 ** 112;
    dw 2 ** 113;
    dw 2 ** 114;
    dw 2 ** 115;
    dw 2 ** 116;
    dw 2 ** 117;
    dw 2 ** 118;
    dw 2 ** 119;
    dw 2 ** 120;
    dw 2 ** 121;
    dw 2 ** 122;
    dw 2 ** 123;
    dw 2 ** 124;
    dw 2 ** 125;
    dw 2 ** 126;
    dw 2 ** 127;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
    dw 2 ** 128;
}
