//! Spill weights from the program's loops: an OSR variant's graph nests the loops
//! around its entry inside the entered loop, and the register allocator weighs each
//! block by the depth of the *program's* loops around it
//! (`stage4::regalloc::nest`). What it is for: `matmul`'s `multiply`, entered at its
//! middle loop (as the background compile does) or at its inner loop (as compiling
//! on the spot does), keeps every value of the inner loop in a register; weighed by
//! the graph, the inner loop's product (and at the middle entry all six of its
//! temporaries) went to stack slots, and stage 7 was slower than stage 5 there. And
//! the product takes its right factor's register, which its deopt stub restores.

use stage1::interp::Interpreter;
use stage1::{FnId, Verified};
use stage4::engine::Prepared;
use stage4::ir::{Block, Function, Op, Pc};
use stage4::regalloc::nest::{block_depths, LoopNest};
use stage4::regalloc::Loc;
use stage4::speculation::Scripted;

use super::common::{compare, deopts, isolated, load, run_on, speculating, DESIGNED};

/// The `matmul` kernel (its `multiply`: pc 8 the outer loop's header, 20 the middle
/// one's, 28 the inner one's).
fn matmul() -> Verified {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches/kernels/matmul.mini");
    load(
        "matmul.mini",
        &std::fs::read_to_string(path).expect("the kernel"),
    )
}

/// `multiply`'s variant entered by OSR at the loop header `header`, with the bets its
/// profile gives in a run: the loads of `ai[k]` (pc 35) and `b[k][j]` (pc 40) are
/// integers, no arithmetic overflows, and locals `n`, `i`, `j`, `sum` and `k` hold
/// integers at the entry.
fn variant(verified: &Verified, header: usize) -> (FnId, Prepared) {
    let func = verified
        .program()
        .function_named("multiply")
        .expect("multiply");
    let at = |pcs: &[Pc]| pcs.iter().map(|&pc| (func, pc)).collect();
    let bets = Scripted {
        ints: at(&[35, 40]),
        no_overflow: at(&[41, 42, 46, 55, 64]),
        ..Scripted::default()
    };
    let ints = [2, 4, 7, 8, 9].iter().fold(0u64, |m, local| m | 1 << local);
    let prepared = stage4::tiered::prepare_speculative(
        verified,
        func,
        Some(header),
        ints,
        false,
        &bets,
        &stage7::deopt::DEOPTIMIZER,
    )
    .unwrap_or_else(|e| panic!("multiply at pc {header} compiles: {e}"));
    (func, prepared)
}

/// The blocks of `f` with an instruction that `is`.
fn blocks_with(f: &Function, is: impl Fn(&Op) -> bool) -> Vec<Block> {
    (0..f.blocks.len() as u32)
        .map(Block)
        .filter(|&b| f.block(b).insts.iter().any(|&i| is(&f.inst(i).op)))
        .collect()
}

/// The inner loop's main loop (range-check elimination's, whose loads check
/// nothing): its body, and the header the body jumps back to.
fn main_loop(f: &Function) -> Vec<Block> {
    let mut blocks = blocks_with(f, |op| matches!(op, Op::LoadElement(..)));
    assert!(
        !blocks.is_empty(),
        "a main loop:\n{}",
        stage4::ir::text::print(f)
    );
    let headers: Vec<Block> = blocks
        .iter()
        .flat_map(|&b| f.block(b).term.successors().to_vec())
        .collect();
    blocks.extend(headers);
    blocks.sort();
    blocks.dedup();
    blocks
}

#[test]
fn the_inner_loops_values_keep_their_registers_wherever_the_variant_is_entered() {
    let verified = matmul();
    for header in [20, 28] {
        let (_, p) = variant(&verified, header);
        let f = &p.ir;
        let listing = stage4::ir::text::print(f);
        for b in main_loop(f) {
            let block = f.block(b);
            let results = block.insts.iter().filter_map(|&i| f.inst(i).result);
            for v in block.params.iter().copied().chain(results) {
                let Some(loc) = p.alloc.locs[v.index()] else {
                    continue;
                };
                assert!(
                    matches!(loc, Loc::Reg(_)),
                    "entered at pc {header}: v{} of the inner loop's b{} is in {loc}:\n{listing}",
                    v.0,
                    b.0
                );
            }
        }
    }
}

#[test]
fn a_blocks_depth_is_that_of_the_programs_loops_around_its_code() {
    let verified = matmul();
    let nest = LoopNest::of(verified.program());
    // Entered at the middle loop (one loop around it) and at the inner one (two).
    for (header, around) in [(20, 1), (28, 2)] {
        let (_, p) = variant(&verified, header);
        let f = &p.ir;
        let listing = stage4::ir::text::print(f);
        let depths = block_depths(f, Some(&nest));
        let depth = |b: Block| depths[b.index()];
        let distinct = |blocks: Vec<Block>| {
            let mut found: Vec<u32> = blocks.into_iter().map(depth).collect();
            found.sort_unstable();
            found.dedup();
            found
        };
        // The variant runs a copy of each loop around the entered one for the trip
        // the frame is in (`stage4::ir::build::osr_nest`), then the nest whole. The
        // inner loop's main loop goes round in all three loops in the nest, and in
        // one fewer in each copy: the copy of the outer loop's trip runs it in the
        // middle and inner loops, the copy of the middle loop's in the inner loop.
        let expected: Vec<u32> = (3 - around..=3).collect();
        assert_eq!(
            distinct(main_loop(f)),
            expected,
            "entered at pc {header}:\n{listing}"
        );
        // `row = [0; n]` runs once per trip of the outer loop, in the nest only (the
        // copies start past it).
        let rows = blocks_with(f, |op| matches!(op, Op::NewArrayFill(..)));
        assert!(!rows.is_empty(), "{listing}");
        for b in rows {
            assert_eq!(depth(b), 1, "entered at pc {header}: b{}:\n{listing}", b.0);
        }
        // The other copies of the inner loop's load of `ai[k]` (pc 35): the first
        // iteration run once per entry of the inner loop, and the loop as it was,
        // after its main loop (its post loop): once per trip of the middle loop in
        // the nest, once per entry of the variant in the copy of the middle loop.
        let copies = blocks_with(f, |op| matches!(op, Op::ArrayGet(..)))
            .into_iter()
            .filter(|&b| {
                f.block(b)
                    .insts
                    .iter()
                    .any(|&i| f.inst(i).pc == 35 && matches!(f.inst(i).op, Op::ArrayGet(..)))
            })
            .collect::<Vec<_>>();
        assert_eq!(
            copies.len(),
            2 * (around as usize + 1),
            "entered at pc {header}:\n{listing}"
        );
        let expected: Vec<u32> = (2 - around..=2).collect();
        assert_eq!(
            distinct(copies),
            expected,
            "entered at pc {header}:\n{listing}"
        );
        assert_eq!(depth(Block(0)), 0, "the entry runs once:\n{listing}");
    }
}

/// `s = s + a[k] * b[k]`: the product overwrites its right factor, whose last use
/// it is, in place (in the inner loop of `matmul` that register is what the bound
/// keeps), though the `mul`'s frame state holds the factor: the `imul` reads the
/// factor untagged from `rdx`, and when it overflows (the last element is 2^61), the
/// deopt stub tags it back from there before the state is read. So the interpreter
/// redoes the multiplication on the true factors and raises the same error at the
/// same trip; with the factor left overwritten it would multiply the wrapped product
/// (`8 * 2^61` wraps to 0), finish the loop and print.
#[test]
fn a_guarded_product_overwrites_its_right_factor_and_its_deopt_tags_it_back() {
    isolated(|| {
        let source = "fn dot(a, b, n) {\n\
                      let s = 0;\n\
                      let k = 0;\n\
                      while k < n { s = s + a[k] * b[k]; k = k + 1; }\n\
                      return s;\n\
                      }\n\
                      let a = [4; 40000];\n\
                      let b = [5; 40000];\n\
                      print dot(a, b, 40000);\n\
                      b[39999] = 2305843009213693952;\n\
                      print dot(a, b, 40000);";
        let verified = load("product_in_place.mini", source);
        // The product's register is its right factor's.
        let listing = stage7::dump::asm_listing(&verified);
        let dot = listing
            .split("\n; compile ")
            .find(|c| c.contains("fn dot"))
            .unwrap_or_else(|| panic!("dot was compiled:\n{listing}"));
        let at = |v: &str| -> Option<&str> {
            let line = dot.lines().find(|l| l.contains(&format!(" {v}@")))?;
            let (_, rest) = line.split_once(&format!("{v}@"))?;
            rest.split_whitespace().next()
        };
        let products: Vec<(&str, &str)> = dot
            .lines()
            .filter_map(|l| {
                let (def, mul) = l.trim_start().split_once(" = guard mul ")?;
                let product = def.split_whitespace().last()?.split_once('@')?.0;
                let right = mul.split(" [").next()?.split(", ").nth(1)?;
                Some((product, right))
            })
            .collect();
        assert!(!products.is_empty(), "a guarded mul:\n{dot}");
        assert!(
            products
                .iter()
                .any(|&(p, r)| at(p).is_some() && at(p) == at(r)),
            "a product in its right factor's register:\n{dot}"
        );
        // And the deopt gives the interpreter the factor back.
        let (run, engine) = speculating(&verified, DESIGNED.options(0));
        let expected = run_on(&mut Interpreter::new(), &verified);
        compare("product_in_place.mini", source, &expected, &run).unwrap();
        let all = deopts(&engine, &verified);
        assert!(
            all.iter().any(|d| d.reason == "overflow" && d.line == 4),
            "{all:#?}"
        );
    });
}
