//! Branches to blocks that only jump on, sent straight to where those jump.
//!
//! The translation builds control flow from small pieces (a branch's taken way, a lane
//! check's "all agree" way, a stub), and some of the blocks it leaves hold nothing but a
//! `jump`: softmax_rows' kernel had 12 of its 92. Cranelift keeps every block through
//! register allocation, whose work grows with the blocks and the values live through each;
//! the jumps themselves it removes only when it emits the code. Here every branch to such a
//! block (without parameters) goes to its destination instead, with the arguments its jump
//! passes (values that dominate the block, so every way into it); then the blocks nothing
//! reaches any more are dropped here, in one pass (Cranelift's own pass removes them one at
//! a time, updating its flow graph each time: 4,000 took 60 ms).

use cranelift_codegen::entity::EntityRef;
use cranelift_codegen::ir::{Block, BlockArg, BlockCall, Function, InstructionData, Value};

/// Sends `func`'s branches to jump-only blocks straight on (see the module's notes).
/// Returns how many branch destinations it changed.
pub(crate) fn thread_jumps(func: &mut Function) -> usize {
    let entry = func.layout.entry_block();
    // Per block: where it jumps, if all it does is jump, without parameters, passing only
    // values.
    let mut on: Vec<Option<(Block, Vec<Value>)>> = vec![None; func.dfg.num_blocks()];
    for block in func.layout.blocks() {
        let (Some(first), Some(last)) =
            (func.layout.first_inst(block), func.layout.last_inst(block))
        else {
            continue;
        };
        if first != last || Some(block) == entry || !func.dfg.block_params(block).is_empty() {
            continue;
        }
        let InstructionData::Jump { destination, .. } = func.dfg.insts[last] else {
            continue;
        };
        let pool = &func.dfg.value_lists;
        let args: Option<Vec<Value>> = destination
            .args(pool)
            .map(|a| match a {
                BlockArg::Value(v) => Some(v),
                _ => None,
            })
            .collect();
        if let Some(args) = args {
            on[block.index()] = Some((destination.block(pool), args));
        }
    }
    let blocks: Vec<Block> = func.layout.blocks().collect();
    let mut changed = 0;
    for block in blocks {
        let Some(inst) = func.layout.last_inst(block) else {
            continue;
        };
        let dfg = &mut func.dfg;
        let calls =
            dfg.insts[inst].branch_destination_mut(&mut dfg.jump_tables, &mut dfg.exception_tables);
        for call in calls.iter_mut() {
            let mut to = call.block(&dfg.value_lists);
            // A branch to a block with parameters passes arguments: left as it is.
            if call.len(&dfg.value_lists) != 0 {
                continue;
            }
            let mut via: Option<&(Block, Vec<Value>)> = None;
            // Along a chain of such blocks (not around a cycle of them); a jump with
            // arguments ends it, its destination having parameters.
            for _ in 0..8 {
                let Some(next) = &on[to.index()] else { break };
                via = Some(next);
                to = next.0;
            }
            if let Some((dest, args)) = via {
                let args = args.iter().map(|&v| BlockArg::Value(v));
                *call = BlockCall::new(*dest, args, &mut dfg.value_lists);
                changed += 1;
            }
        }
    }
    drop_unreachable(func);
    changed
}

/// Removes the blocks that no branch reaches from the entry block.
fn drop_unreachable(func: &mut Function) {
    let Some(entry) = func.layout.entry_block() else {
        return;
    };
    let mut reached = vec![false; func.dfg.num_blocks()];
    let mut work = vec![entry];
    while let Some(block) = work.pop() {
        if std::mem::replace(&mut reached[block.index()], true) {
            continue;
        }
        for inst in func.layout.block_insts(block) {
            let dfg = &func.dfg;
            for call in dfg.insts[inst].branch_destination(&dfg.jump_tables, &dfg.exception_tables)
            {
                work.push(call.block(&dfg.value_lists));
            }
        }
    }
    let dead: Vec<Block> = func
        .layout
        .blocks()
        .filter(|b| !reached[b.index()])
        .collect();
    for block in dead {
        while let Some(inst) = func.layout.first_inst(block) {
            func.layout.remove_inst(inst);
        }
        func.layout.remove_block(block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_codegen::ir::condcodes::IntCC;
    use cranelift_codegen::ir::{types, AbiParam, InstBuilder, Signature};
    use cranelift_codegen::isa::CallConv;
    use cranelift_codegen::settings;
    use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

    /// `f(x) = if x == 0 { x } else { x + 1 }`, where the first way goes through two
    /// jump-only blocks, the second passing `x` to the exit's parameter, and the other
    /// through a block with an instruction of its own.
    fn sample() -> (Function, [Block; 5]) {
        let mut sig = Signature::new(CallConv::SystemV);
        sig.params.push(AbiParam::new(types::I32));
        sig.returns.push(AbiParam::new(types::I32));
        let mut func = Function::with_name_signature(Default::default(), sig);
        let mut fcx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut func, &mut fcx);
        let blocks = [(); 5].map(|_| b.create_block());
        let [entry, hop1, hop2, other, exit] = blocks;
        b.append_block_params_for_function_params(entry);
        let r = b.append_block_param(exit, types::I32);
        b.switch_to_block(entry);
        let x = b.block_params(entry)[0];
        let zero = b.ins().icmp_imm_s(IntCC::Equal, x, 0);
        b.ins().brif(zero, hop1, &[], other, &[]);
        b.switch_to_block(hop1);
        b.ins().jump(hop2, &[]);
        b.switch_to_block(hop2);
        b.ins().jump(exit, &[BlockArg::Value(x)]);
        b.switch_to_block(other);
        let y = b.ins().iadd_imm_s(x, 1);
        b.ins().jump(exit, &[BlockArg::Value(y)]);
        b.switch_to_block(exit);
        b.ins().return_(&[r]);
        b.seal_all_blocks();
        let isa = cranelift_native::builder()
            .and_then(|i| {
                i.finish(settings::Flags::new(settings::builder()))
                    .map_err(|_| "isa")
            })
            .expect("the host ISA");
        b.finalize(isa.frontend_config());
        (func, blocks)
    }

    /// The destinations of `block`'s branch, with their arguments.
    fn targets(func: &Function, block: Block) -> Vec<(Block, Vec<BlockArg>)> {
        let inst = func.layout.last_inst(block).expect("a terminator");
        let dfg = &func.dfg;
        dfg.insts[inst]
            .branch_destination(&dfg.jump_tables, &dfg.exception_tables)
            .iter()
            .map(|c| {
                (
                    c.block(&dfg.value_lists),
                    c.args(&dfg.value_lists).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn branches_skip_jump_only_blocks() {
        let (mut func, [entry, hop1, _, other, exit]) = sample();
        let x = func.dfg.block_params(entry)[0];
        assert_eq!(targets(&func, entry), vec![(hop1, vec![]), (other, vec![])]);
        // The branch and hop1's own jump go straight to the exit, with hop2's argument;
        // the other way is left as it was.
        assert_eq!(thread_jumps(&mut func), 2);
        let want = vec![(exit, vec![BlockArg::Value(x)]), (other, vec![])];
        assert_eq!(targets(&func, entry), want);
        // Nothing reaches the hops any more: they are gone.
        let left: Vec<Block> = func.layout.blocks().collect();
        assert_eq!(left, vec![entry, other, exit]);
        let flags = settings::Flags::new(settings::builder());
        cranelift_codegen::verify_function(&func, &flags).expect("valid CLIF");
        assert_eq!(thread_jumps(&mut func), 0);
    }
}
