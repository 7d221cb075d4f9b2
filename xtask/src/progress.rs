//! `cargo xtask progress`: is what the book says about progress true? In a scratch
//! copy it builds the learner's crate with no hole filled, then fills the holes from
//! the solution one at a time in book order, running the stage's suite each time, and
//! compares the tests that go green at each step with the book's claims.
//!
//! A claim is one paragraph of the chapter: `**Passing before any hole:**` (in the
//! section titled "Grading…") and `**Passing after this hole:**` (in each hole's
//! section), followed by the tests as `` `module::test` `` (or `` `module::*` `` for
//! every test of a module) or the word `none`. `--write` rewrites the paragraphs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use crate::scratch::{holes_in_book_order, learner_tree, Scratch, Status, SuiteRun};

/// The paragraph that lists the tests passing with no hole filled.
const BEFORE: &str = "**Passing before any hole:**";
/// The paragraph, in a hole's section, that lists the tests that hole makes pass.
const AFTER: &str = "**Passing after this hole:**";

/// The tests that go green at each step: step 0 is before any hole, step `k` after
/// the `k`th hole in book order.
struct Steps {
    holes: Vec<String>,
    green: Vec<BTreeSet<String>>,
    all: BTreeSet<String>,
}

/// A set of test names written compactly: `m::*` for a whole module of the suite.
fn compact(tests: &BTreeSet<String>, all: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut modules: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for t in tests {
        let module = t.rsplit_once("::").map_or("", |(m, _)| m);
        modules.entry(module).or_default().push(t);
    }
    for (module, names) in modules {
        let whole = all
            .iter()
            .filter(|t| t.rsplit_once("::").map_or("", |(m, _)| m) == module)
            .count();
        if !module.is_empty() && names.len() == whole && whole > 1 {
            out.push(format!("{module}::*"));
        } else {
            out.extend(names.into_iter().cloned());
        }
    }
    out
}

/// The claim paragraph's text for `tests`.
fn claim_text(lead: &str, tests: &BTreeSet<String>, all: &BTreeSet<String>) -> String {
    if tests.is_empty() {
        return format!("{lead} none.");
    }
    let names: Vec<String> = compact(tests, all)
        .into_iter()
        .map(|n| format!("`{n}`"))
        .collect();
    let count = match tests.len() {
        1 => "1 test".to_string(),
        n => format!("{n} tests"),
    };
    format!("{lead} {count}: {}.", names.join(", "))
}

/// The lines a new claim is inserted as: folded, since a list of test names is for
/// checking, not for reading through.
fn folded(lead: &str, claim: String) -> [String; 6] {
    let summary = if lead == BEFORE {
        "The tests that pass before any hole is filled"
    } else {
        "The tests this hole makes pass"
    };
    [
        String::new(),
        format!(
            "<details><summary>{summary} (checked by <code>cargo xtask progress</code>)</summary>"
        ),
        String::new(),
        claim,
        String::new(),
        "</details>".to_string(),
    ]
}

/// The tests a claim names, `m::*` expanded; `None` for `none`.
fn claimed(paragraph: &str, all: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, part) in paragraph.split('`').enumerate() {
        if i % 2 == 0 {
            continue;
        }
        if let Some(module) = part.strip_suffix("::*") {
            let prefix = format!("{module}::");
            out.extend(
                all.iter()
                    .filter(|t| {
                        t.strip_prefix(&prefix)
                            .is_some_and(|rest| !rest.contains("::"))
                    })
                    .cloned(),
            );
        } else {
            out.insert(part.to_string());
        }
    }
    out
}

/// Where a claim is in the chapter: the line range of its paragraph, or where to
/// insert one.
enum Place {
    Found(std::ops::Range<usize>),
    Insert(usize),
}

/// The lines of the section whose heading has `{#id}` (or, with `id` None, whose
/// title starts with "Grading"): from its heading to the next `## `.
fn section(lines: &[String], id: Option<&str>) -> Option<std::ops::Range<usize>> {
    let start = lines.iter().position(|l| match id {
        Some(id) => l.starts_with("## ") && l.trim_end().ends_with(&format!("{{#{id}}}")),
        None => l.starts_with("## Grading"),
    })?;
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with("## "))
        .map_or(lines.len(), |p| start + 1 + p);
    Some(start..end)
}

fn place(lines: &[String], range: std::ops::Range<usize>, lead: &str) -> Place {
    if let Some(p) = lines[range.clone()]
        .iter()
        .position(|l| l.starts_with(lead))
    {
        let at = range.start + p;
        let end = lines[at..range.end]
            .iter()
            .position(|l| l.trim().is_empty())
            .map_or(range.end, |q| at + q);
        return Place::Found(at..end);
    }
    let mut end = range.end;
    while end > range.start + 1 && lines[end - 1].trim().is_empty() {
        end -= 1;
    }
    Place::Insert(end)
}

/// The lead of a claim's text.
fn lead_of(text: &str) -> &'static str {
    if text.starts_with(BEFORE) {
        BEFORE
    } else {
        AFTER
    }
}

/// Runs the steps of `stage` in the scratch copy.
fn measure(root: &Path, scratch: &Scratch, stage: u32) -> Result<Steps, String> {
    let holes: Vec<String> = holes_in_book_order(root, stage)?
        .into_iter()
        .map(|h| h.id)
        .collect();
    let mut passing: Vec<BTreeSet<String>> = Vec::new();
    let mut all = BTreeSet::new();
    for k in 0..=holes.len() {
        let done: BTreeSet<&str> = holes[..k].iter().map(String::as_str).collect();
        let tree = learner_tree(root, stage, &|id| done.contains(id), None)?;
        scratch.set_learner(stage, &tree)?;
        let what = if k == 0 {
            "no hole".to_string()
        } else {
            format!("holes up to `{}`", holes[k - 1])
        };
        let tests = match scratch.run_suite(stage, Duration::from_secs(600)) {
            SuiteRun::Finished(t) => t,
            SuiteRun::DoesNotCompile(e) => {
                return Err(format!("stage {stage} with {what}: does not compile: {e}"))
            }
            SuiteRun::TimedOut(_) => return Err(format!("stage {stage} with {what}: timed out")),
            SuiteRun::Crashed(_, why) => {
                return Err(format!(
                    "stage {stage} with {what}: the suite crashed: {why}"
                ))
            }
        };
        // An ignored test runs in no step: it is no one's claim.
        all.extend(
            tests
                .iter()
                .filter(|(_, s)| **s != Status::Ignored)
                .map(|(n, _)| n.clone()),
        );
        let ok: BTreeSet<String> = tests
            .into_iter()
            .filter(|(_, s)| *s == Status::Ok)
            .map(|(n, _)| n)
            .collect();
        println!("stage {stage}, {what}: {} tests pass", ok.len());
        passing.push(ok);
    }
    let mut problems = Vec::new();
    let mut green = Vec::new();
    for k in 0..passing.len() {
        let before = if k == 0 {
            BTreeSet::new()
        } else {
            passing[k - 1].clone()
        };
        for lost in before.difference(&passing[k]) {
            problems.push(format!(
                "`{lost}` passed before `{}` and fails after it",
                holes[k - 1]
            ));
        }
        green.push(passing[k].difference(&before).cloned().collect());
    }
    if let Some(last) = passing.last() {
        for t in all.difference(last) {
            problems.push(format!("`{t}` fails with every hole filled"));
        }
    }
    if !problems.is_empty() {
        return Err(format!("stage {stage}:\n  {}", problems.join("\n  ")));
    }
    Ok(Steps { holes, green, all })
}

/// Checks (or with `write`, rewrites) the claims of `stage`'s chapter.
fn check_chapter(
    root: &Path,
    stage: u32,
    steps: &Steps,
    write: bool,
) -> Result<Vec<String>, String> {
    let chapter = crate::book::load_chapter(root, stage).map_err(|e| e.to_string())?;
    let path = root.join(&chapter.file);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", chapter.file))?;
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut problems = Vec::new();
    let mut edits: Vec<(Place, String)> = Vec::new();
    let claims = std::iter::once((None, BEFORE))
        .chain(steps.holes.iter().map(|h| (Some(h.as_str()), AFTER)));
    for (k, (id, lead)) in claims.enumerate() {
        let what = id.map_or("before any hole".to_string(), |h| format!("after `{h}`"));
        let Some(range) = section(&lines, id) else {
            problems.push(format!("{}: no section for the claim {what}", chapter.file));
            continue;
        };
        let want = &steps.green[k];
        let text = claim_text(lead, want, &steps.all);
        let place = place(&lines, range, lead);
        match &place {
            Place::Found(r) => {
                let paragraph = lines[r.clone()].join(" ");
                let said = claimed(&paragraph, &steps.all);
                if &said != want {
                    let extra: Vec<_> = said.difference(want).collect();
                    let missing: Vec<_> = want.difference(&said).collect();
                    problems.push(format!(
                        "{}:{}: the claim {what} is wrong: it names {extra:?} that do not go green then, and leaves out {missing:?}",
                        chapter.file,
                        r.start + 1
                    ));
                    edits.push((place, text));
                }
            }
            Place::Insert(at) => {
                problems.push(format!(
                    "{}:{}: no `{lead}` paragraph for the claim {what}",
                    chapter.file,
                    at + 1
                ));
                edits.push((place, text));
            }
        }
    }
    if write && !edits.is_empty() {
        // From the bottom up, so earlier line numbers stay valid.
        edits.sort_by_key(|(p, _)| match p {
            Place::Found(r) => r.start,
            Place::Insert(at) => *at,
        });
        for (p, text) in edits.into_iter().rev() {
            match p {
                Place::Found(r) => {
                    lines.splice(r, [text]);
                }
                Place::Insert(at) if text.ends_with(" none.") => {
                    lines.splice(at..at, [String::new(), text]);
                }
                Place::Insert(at) => {
                    lines.splice(at..at, folded(lead_of(&text), text));
                }
            }
        }
        let mut out = lines.join("\n");
        out.push('\n');
        std::fs::write(&path, out).map_err(|e| format!("{}: {e}", chapter.file))?;
        println!("rewrote the claims of {}", chapter.file);
        return Ok(Vec::new());
    }
    Ok(problems)
}

/// `cargo xtask progress`: for each stage (every stage with holes when `stages` is
/// empty), measure, then check or write the chapter's claims.
pub fn run(root: &Path, stages: &[u32], write: bool) -> Result<(), String> {
    let stages: Vec<u32> = if stages.is_empty() {
        crate::generate::stages(root)
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|&s| holes_in_book_order(root, s).is_ok_and(|h| !h.is_empty()))
            .collect()
    } else {
        stages.to_vec()
    };
    let scratch = Scratch::new(root, "progress")?;
    let mut problems = Vec::new();
    for stage in stages {
        let steps = measure(root, &scratch, stage)?;
        for (k, green) in steps.green.iter().enumerate() {
            let what = if k == 0 {
                "before any hole".to_string()
            } else {
                format!("after {}", steps.holes[k - 1])
            };
            println!(
                "  {what}: {}",
                claim_text("", green, &steps.all).trim_start()
            );
        }
        problems.extend(check_chapter(root, stage, &steps, write)?);
    }
    if problems.is_empty() {
        println!("the book's progress claims are true");
        Ok(())
    } else {
        Err(format!(
            "{}\nfix: `cargo xtask progress --write` rewrites the claims from this run",
            problems.join("\n")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_whole_module_is_written_with_a_star_and_read_back() {
        let all = set(&["a::x", "a::y", "b::z", "b::w", "top"]);
        let green = set(&["a::x", "a::y", "b::z", "top"]);
        let text = claim_text(AFTER, &green, &all);
        assert_eq!(text, format!("{AFTER} 4 tests: `top`, `a::*`, `b::z`."));
        assert_eq!(claimed(&text, &all), green);
        assert_eq!(claim_text(AFTER, &set(&[]), &all), format!("{AFTER} none."));
        assert!(claimed(&format!("{AFTER} none."), &all).is_empty());
    }

    #[test]
    fn a_claim_is_found_in_its_section_or_inserted_at_its_end() {
        let lines: Vec<String> = "# Ch\n## A {#a}\ntext\n\n**Passing after this hole:** `x`,\n`y`.\n\n## B {#b}\nmore\n\n"
            .lines()
            .map(str::to_string)
            .collect();
        let a = section(&lines, Some("a")).unwrap();
        assert!(matches!(place(&lines, a, AFTER), Place::Found(r) if r == (4..6)));
        let b = section(&lines, Some("b")).unwrap();
        assert!(matches!(place(&lines, b, AFTER), Place::Insert(9)));
    }
}
