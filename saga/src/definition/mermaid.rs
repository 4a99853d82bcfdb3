//! Mermaid rendering of a definition.

use std::fmt::Write as _;

use super::{SagaDefinition, StepKind};

pub(super) fn render<D>(def: &SagaDefinition<D>) -> String {
    let id = |i: usize| format!("s{i}");
    let mut out = String::from("stateDiagram-v2\n");
    let _ = writeln!(out, "    %% {} v{}", def.name, def.version);
    for (i, step) in def.steps.iter().enumerate() {
        let marker = match step.kind {
            StepKind::Compensatable => "",
            StepKind::Pivot => " (pivot)",
            StepKind::Retriable => " (retriable)",
        };
        let _ = writeln!(out, "    {}: {}{}", id(i), step.name, marker);
        if let Some(_c) = &step.compensation {
            let _ = writeln!(out, "    c{i}: undo {}", step.name);
        }
    }
    let _ = writeln!(out, "    [*] --> {}", id(0));
    for i in 0..def.steps.len() {
        let next = if i + 1 < def.steps.len() {
            id(i + 1)
        } else {
            "Completed".to_owned()
        };
        let _ = writeln!(out, "    {} --> {next}: ok", id(i));
        if i < def.commit_point {
            // Refused: the steps before it are compensated. Unknown outcome (timed out, retries
            // exhausted): it is compensated too.
            let before = (0..i)
                .rev()
                .find(|&j| def.steps[j].compensation.is_some())
                .map_or_else(|| "Compensated".to_owned(), |j| format!("c{j}"));
            let _ = writeln!(out, "    {} --> {before}: refused", id(i));
            let _ = writeln!(out, "    {} --> c{i}: outcome unknown", id(i));
        } else if def.steps[i].kind == StepKind::Pivot {
            let target = (0..i)
                .rev()
                .find(|&j| def.steps[j].compensation.is_some())
                .map_or_else(|| "Compensated".to_owned(), |j| format!("c{j}"));
            let _ = writeln!(out, "    {} --> {target}: refused", id(i));
            let _ = writeln!(out, "    {} --> Stuck: outcome unknown", id(i));
        } else {
            let _ = writeln!(out, "    {} --> Stuck: gives up", id(i));
        }
    }
    for i in (0..def.steps.len()).rev() {
        if def.steps[i].compensation.is_none() {
            continue;
        }
        let next = (0..i)
            .rev()
            .find(|&j| def.steps[j].compensation.is_some())
            .map_or_else(|| "Compensated".to_owned(), |j| format!("c{j}"));
        let _ = writeln!(out, "    c{i} --> {next}");
        let _ = writeln!(out, "    c{i} --> Stuck: retries exhausted");
    }
    out.push_str("    Completed --> [*]\n    Compensated --> [*]\n");
    out
}

#[cfg(test)]
mod tests {
    use crate::step::{compensation_fn, step_fn, StepContext, StepError};
    use crate::SagaDefinition;

    #[test]
    fn renders_forward_and_compensation_paths() {
        let def = SagaDefinition::<()>::builder("order", 2)
            .compensatable(
                "reserve",
                step_fn(|_: StepContext, d: ()| async move { Ok::<_, StepError>(d) }),
                compensation_fn(|_: StepContext, _: ()| async move { Ok::<_, StepError>(()) }),
            )
            .pivot(
                "pay",
                step_fn(|_: StepContext, d: ()| async move { Ok::<_, StepError>(d) }),
            )
            .build()
            .expect("valid");
        let m = def.to_mermaid();
        assert!(m.starts_with("stateDiagram-v2\n"));
        assert!(m.contains("s0: reserve\n"));
        assert!(m.contains("s1: pay (pivot)\n"));
        assert!(m.contains("s0 --> s1: ok"));
        assert!(m.contains("s1 --> Completed: ok"));
        assert!(m.contains("s1 --> c0: refused"));
        assert!(m.contains("s0 --> Compensated: refused"));
        assert!(m.contains("s0 --> c0: outcome unknown"));
        assert!(m.contains("c0 --> Compensated"));
    }
}
