//! Printing more than fits: a writer that fails after a limit (a closed pipe, a full
//! disk), and Mini programs whose printed value grows without bound.

/// A writer that takes `limit` bytes, then fails (a closed pipe, a full disk), and
/// remembers the first bytes, the total and its biggest single write.
pub struct Limited {
    pub head: Vec<u8>,
    pub total: usize,
    pub limit: usize,
    pub biggest_write: usize,
}

impl Limited {
    /// A writer that fails once more than `limit` bytes would have been written.
    pub fn new(limit: usize) -> Limited {
        Limited {
            head: Vec::new(),
            total: 0,
            limit,
            biggest_write: 0,
        }
    }

    /// Asserts no single write was bigger than 64 KiB: a long print streams.
    #[track_caller]
    pub fn assert_small_writes(&self) {
        assert!(
            self.biggest_write <= 64 << 10,
            "one write of {}",
            self.biggest_write
        );
    }

    /// Asserts what [`doubled`]`(40)` wrote into a writer that fails after 1 MiB: `1`
    /// then the start of the array, over a million bytes, in small writes.
    #[track_caller]
    pub fn assert_streamed_until_full(&self) {
        assert!(self.head.starts_with(b"1\n[[[[[[[[[["), "{:?}", self.head);
        assert!(self.total > 1_000_000, "only {} bytes came out", self.total);
        self.assert_small_writes();
    }
}

impl std::io::Write for Limited {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.total + buf.len() > self.limit {
            return Err(std::io::Error::other("the disk is full"));
        }
        let keep = buf.len().min(64usize.saturating_sub(self.head.len()));
        self.head.extend_from_slice(&buf[..keep]);
        self.total += buf.len();
        self.biggest_write = self.biggest_write.max(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `a` doubled `n` times (`a = [a, a]`), after `print 1`.
pub fn doubled(n: u32) -> String {
    format!(
        "let a = [1, 2];\nlet i = 0;\nwhile i < {n} {{ a = [a, a]; i = i + 1; }}\nprint 1;\nprint a;\n"
    )
}

/// The length of `a` doubled `n` times, as printed: `[1, 2]` is 6 bytes, and each
/// doubling is `[` + a + `, ` + a + `]`.
pub fn doubled_len(n: u32) -> usize {
    (0..n).fold(6, |len, _| 2 * len + 4)
}
