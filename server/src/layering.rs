//! The dependency direction between modules, checked (docs/architecture.md, "Layers").
//!
//! ```text
//! main / cli / bench ──> app (wires routes, builds AppState) ──> */routes.rs, ops (handlers)
//!   handlers ──> capability stores and queries (model.rs, store.rs, submit.rs, decide.rs …)
//!   stores   ──> pure rules (engine, rules, flags, coverage, …) and db, audit, webhooks outbox
//!   everything ──> state, http, error, i18n, clock, config, geo, ids (the floor)
//! ```
//!
//! Three rules keep it that way, each a test below: nothing under the handlers imports `app`;
//! the HTTP plumbing (`http/`) reaches no capability; the pure rules touch no database, no web
//! framework and no clock (the instant or the day is passed in).

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn sources() -> Vec<(String, String)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("server/src");
        let mut out = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path: PathBuf = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let name = path
                        .strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    out.push((name, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
        assert!(out.len() > 50, "the source walk found {} files", out.len());
        out
    }

    /// Code, without comments (a doc line may name a module it does not import).
    fn code(text: &str) -> String {
        text.lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn nothing_below_the_handlers_imports_app() {
        // The files that assemble or run the application (and the spec check comparing with it).
        let assembly = [
            "app.rs",
            "main.rs",
            "cli.rs",
            "ops.rs",
            "spec.rs",
            "layering.rs",
        ];
        let offenders: Vec<_> = sources()
            .into_iter()
            .filter(|(name, _)| !assembly.contains(&name.as_str()) && !name.starts_with("bench/"))
            .filter(|(_, text)| code(text).contains("crate::app"))
            .map(|(name, _)| name)
            .collect();
        assert!(
            offenders.is_empty(),
            "import `crate::state::AppState`, not `crate::app`: {offenders:?}"
        );
    }

    #[test]
    fn the_http_plumbing_reaches_no_capability() {
        let floor = [
            "error",
            "metrics",
            "state",
            "config",
            "telemetry",
            "clock",
            "http",
            "i18n",
        ];
        let mut offenders = Vec::new();
        for (name, text) in sources()
            .into_iter()
            .filter(|(n, _)| n.starts_with("http/"))
        {
            let code = code(&text);
            for (i, _) in code.match_indices("crate::") {
                let module: String = code[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !module.is_empty() && !floor.contains(&module.as_str()) {
                    offenders.push(format!("{name}: crate::{module}"));
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "http/ must stay below the capabilities: {offenders:?}"
        );
    }

    #[test]
    fn the_pure_rules_touch_no_database_framework_or_clock() {
        let pure = [
            "stars/engine.rs",
            "review/rules.rs",
            "quarter.rs",
            "mentoring/coverage.rs",
            "inspection/flags.rs",
            "benefits/eligibility.rs",
            "checklist/answers.rs",
        ];
        let forbidden = [
            "diesel",
            "actix",
            "crate::db",
            "crate::state",
            "Utc::now",
            "Local::now",
            "clock::now",
            "clock::today",
        ];
        let sources = sources();
        for file in pure {
            let (_, text) = sources
                .iter()
                .find(|(n, _)| n == file)
                .unwrap_or_else(|| panic!("{file} is listed as pure but does not exist"));
            // The tests of a rule may build fixtures as they like.
            let rules = code(text.split("#[cfg(test)]").next().unwrap());
            for word in forbidden {
                assert!(
                    !rules.contains(word),
                    "{file} is a pure rule but uses `{word}`"
                );
            }
        }
    }
}
