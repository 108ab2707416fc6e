//! Pi: our own extension `<PI_CODING_AGENT_DIR or ~/.pi/agent>/extensions/observatory.ts` (Pi
//! loads every `extensions/*.ts`), which forwards Pi's session, agent, turn and tool events to
//! `<endpoint>/v1/hooks/pi`. Pi has no OpenTelemetry of its own; the extension is all it sends.

use anyhow::Result;

use super::{Context, Plan, Target, restart_note};

const EXTENSION_SOURCE: &str = include_str!("../../../config/agents/pi-extension.ts");
pub const ENDPOINT_PLACEHOLDER: &str = "\"__OBSERVATORY_ENDPOINT__\"";

pub fn extension_source(endpoint: &str) -> Result<String> {
    let literal = serde_json::to_string(endpoint)?;
    Ok(EXTENSION_SOURCE.replacen(ENDPOINT_PLACEHOLDER, &literal, 1))
}

pub fn plan(ctx: &Context, target: &Target, undo: bool) -> Result<Plan> {
    let dir = ctx
        .dir_var("PI_CODING_AGENT_DIR")
        .unwrap_or_else(|| ctx.home.join(".pi").join("agent"));
    let path = dir.join("extensions").join("observatory.ts");
    let mut plan = Plan::new(target.display_name);
    let generated = extension_source(&ctx.endpoint)?;
    let what = if undo {
        "observatory's extension".to_owned()
    } else {
        format!("extension forwarding Pi's events to {}", ctx.endpoint)
    };
    plan.own_file(path, &generated, what, undo)?;
    if !undo {
        plan.next.push(restart_note("Pi"));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_substituted_once_as_a_string() {
        assert_eq!(EXTENSION_SOURCE.matches(ENDPOINT_PLACEHOLDER).count(), 1);
        let src = extension_source("http://h:1").expect("source");
        assert!(src.contains("const ENDPOINT = \"http://h:1\";"));
    }
}
