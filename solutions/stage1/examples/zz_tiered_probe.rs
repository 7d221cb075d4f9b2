//! Temporary probe (not committed): FILE in a tiered run that never tiers up.
use stage1_solution::heap::Heap;
use stage1_solution::interp::tiering::{Counters, Installed, NEVER};
use stage1_solution::interp::{Callout, Entry, Interpreter, Link, Unwind};
use stage1_solution::{FnId, Value};
struct Null;
impl Callout for Null {
    fn call(
        &mut self,
        _: &mut Heap,
        _: FnId,
        _: &[Value],
        _: usize,
        _: &mut dyn std::io::Write,
    ) -> Result<Value, Unwind> {
        unreachable!()
    }
}
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let v = stage1_solution::load::load_file(std::path::Path::new(&args[1])).expect("loads");
    let counters = Counters::new(v.program(), NEVER, NEVER);
    let installed = Installed::new(v.program().functions.len());
    let mut heap = Heap::new(1 << 30);
    let mut null = Null;
    let link = Link::Tiered {
        counters: &counters,
        installed: &installed,
        callout: &mut null,
    };
    let r = Interpreter::new().enter(
        &v,
        &mut heap,
        Entry::call(0, &[], 0),
        Some(link),
        &mut std::io::stdout(),
    );
    println!("{:?}", r.map(|v| v.as_int()));
}
