//! W^X: finished code lives in pages that are read+execute and not writable, the
//! rest of the mapping is `int3`, and the block can move between threads.

use super::common::isolated;
use stage2::{Assembler, CodeBlock, Reg, FILLER};

fn small() -> CodeBlock {
    let mut a = Assembler::new();
    a.mov(Reg::RAX, Reg::RDI);
    a.ret();
    a.finish().unwrap()
}

#[test]
fn finished_pages_are_read_execute_not_writable() {
    isolated(|| {
        let code = small();
        let region = region::query(code.entry_ptr()).unwrap();
        assert_eq!(region.protection(), region::Protection::READ_EXECUTE);
        assert!(region.is_executable());
        assert!(!region.is_writable());
    });
}

#[test]
fn every_page_of_a_large_block_is_read_execute() {
    isolated(|| {
        let mut a = Assembler::new();
        for _ in 0..10_000 {
            a.nop();
        }
        a.ret();
        let code = a.finish().unwrap();
        assert!(code.mapped_len() >= 10_001);
        let pages: Vec<_> = region::query_range(code.entry_ptr(), code.mapped_len())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!pages.is_empty());
        for p in pages {
            assert_eq!(p.protection(), region::Protection::READ_EXECUTE, "{p:?}");
        }
    });
}

#[test]
fn the_code_is_copied_and_the_rest_is_int3() {
    isolated(|| {
        let mut a = Assembler::new();
        a.mov(Reg::RAX, Reg::RDI);
        a.ret();
        let expected = a.clone().assemble().unwrap().bytes;
        let code = a.finish().unwrap();
        assert_eq!(code.bytes(), &expected[..]);
        assert_eq!(code.len(), 4);
        assert!(code.mapped_len() > code.len());
        // SAFETY: the whole mapping is readable and lives as long as `code`.
        let all = unsafe { std::slice::from_raw_parts(code.entry_ptr(), code.mapped_len()) };
        assert_eq!(&all[..4], &expected[..]);
        assert!(
            all[4..].iter().all(|&b| b == FILLER),
            "unused bytes are int3"
        );
        assert_eq!(FILLER, 0xCC);
    });
}

#[test]
fn empty_code_still_loads() {
    isolated(|| {
        let code = Assembler::new().finish().unwrap();
        assert!(code.is_empty());
        assert!(code.mapped_len() > 0);
        let region = region::query(code.entry_ptr()).unwrap();
        assert_eq!(region.protection(), region::Protection::READ_EXECUTE);
    });
}

#[test]
fn code_blocks_can_be_shared_between_threads() {
    isolated(|| {
        fn send_sync<T: Send + Sync>(_: &T) {}
        let code = small();
        send_sync(&code);
        let got = std::thread::spawn(move || {
            // SAFETY: reads rdi, returns in rax; `code` lives until the end of the closure.
            let f: extern "sysv64" fn(i64) -> i64 = unsafe { code.as_fn() };
            f(77)
        })
        .join()
        .unwrap();
        assert_eq!(got, 77);
    });
}
