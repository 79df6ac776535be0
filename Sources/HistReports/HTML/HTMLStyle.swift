/// The report's one stylesheet and its shared SVG definitions (mark shapes, the hatch pattern that
/// shades the spans the record does not cover). Light and dark through `prefers-color-scheme`; A4
/// through `@media print`.
enum HTMLStyle {
    static let css = """
    :root { color-scheme: light dark; --fg: #1b1f24; --muted: #5b6470; --bg: #ffffff; --panel: #f5f7fa; --rule: #d6dbe1;
      --grid: #e6e9ee; --mem: #1f6fb2; --cpu: #7a3fb0; --limit: #b3261e; --crash: #c62828; --kill: #d9480f; --breach: #e8590c;
      --start: #2b8a3e; --exit: #6c757d; --gaveup: #111111; --scale: #1971c2; --sup: #495057; --op: #0b7285; --gap: #9aa4ae; --warnbg: #fff4e5; --warnfg: #7a4100; }
    @media (prefers-color-scheme: dark) {
      :root { --fg: #e6e9ee; --muted: #a3acb7; --bg: #14171b; --panel: #1d2127; --rule: #343a42; --grid: #2a2f36; --mem: #5aa9e6;
        --cpu: #c39bf0; --limit: #ff8a80; --crash: #ff6b6b; --kill: #ffa94d; --breach: #ffc078; --start: #69db7c; --exit: #adb5bd;
        --gaveup: #f1f3f5; --scale: #74c0fc; --sup: #ced4da; --op: #66d9e8; --gap: #6c757d; --warnbg: #3a2a12; --warnfg: #ffd8a8; }
    }
    * { box-sizing: border-box; }
    body { margin: 0 auto; max-width: 1240px; padding: 20px 24px 40px; background: var(--bg); color: var(--fg);
      font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
    h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--rule); padding-bottom: 4px; }
    .sub { color: var(--muted); margin: 0 0 12px; }
    .incomplete { background: var(--warnbg); color: var(--warnfg); border-left: 4px solid var(--kill); padding: 8px 12px; margin: 8px 0; }
    .incomplete ul { margin: 4px 0 0; padding-left: 20px; }
    .complete { border-left: 4px solid var(--start); padding: 6px 12px; background: var(--panel); }
    .facts { display: flex; flex-wrap: wrap; gap: 8px 24px; margin: 10px 0; padding: 0; list-style: none; }
    .facts li b { font-size: 18px; display: block; }
    table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 12.5px; }
    th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--rule); vertical-align: top; }
    th { background: var(--panel); font-weight: 600; } td.t { white-space: nowrap; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
    pre { margin: 2px 0; padding: 6px 8px; background: var(--panel); border: 1px solid var(--rule); white-space: pre-wrap;
      word-break: break-word; overflow-wrap: anywhere; font: 12px/1.35 ui-monospace, "DejaVu Sans Mono", monospace; max-height: 24em; overflow: auto; }
    details summary { cursor: pointer; } details[open] summary { display: none; }
    .code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; word-break: break-all; }
    svg { display: block; width: 100%; height: auto; overflow: hidden; }
    svg text { fill: var(--muted); font: 11px system-ui, sans-serif; }
    .chart text { font-size: 19px; } .chart .peak { fill: var(--fg); }
    .lane-label { fill: var(--fg) !important; } .lane-bg { fill: var(--panel); }
    .grid { stroke: var(--grid); stroke-width: 1; }
    .gap { fill: url(#hatch); stroke: var(--gap); stroke-width: 1; stroke-dasharray: 3 2; }
    .series { fill: none; stroke-width: 2; stroke-linejoin: round; } .mem { stroke: var(--mem); } .cpu { stroke: var(--cpu); }
    .limit { stroke: var(--limit); stroke-width: 2; stroke-dasharray: 8 5; } .limit-label { fill: var(--limit) !important; }
    .mark { stroke-width: 1.2; }
    .k-start { stroke: var(--start); stroke-width: 2; } .k-exit { fill: var(--exit); }
    .k-crash-exit { fill: var(--crash); stroke: var(--bg); } .k-crash-signal { stroke: var(--crash); stroke-width: 2.4; fill: none; }
    .k-limit-kill { fill: var(--kill); stroke: var(--bg); } .k-breach { fill: var(--breach); stroke: var(--fg); stroke-width: 1; }
    .k-gave-up { fill: var(--gaveup); } .k-spawn-failed { fill: none; stroke: var(--crash); stroke-width: 1.6; }
    .k-scale-up, .k-scale-down { fill: none; stroke: var(--scale); stroke-width: 2; } .k-supervisor { fill: var(--sup); fill-rule: evenodd; }
    .k-operator { fill: var(--op); stroke: var(--bg); stroke-width: 0.8; } .k-other { fill: var(--muted); }
    .legend { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 4px 0 8px; padding: 0; list-style: none; font-size: 12px; color: var(--muted); }
    .legend svg { display: inline-block; width: 16px; height: 16px; vertical-align: -3px; margin-right: 4px; }
    .usage { display: grid; grid-template-columns: 150px 1fr 1fr; gap: 2px 12px; align-items: center; }
    .usage .name { font-weight: 600; overflow-wrap: anywhere; font-size: 13px; } .usage .head { color: var(--muted); font-size: 12px; }
    .note { color: var(--muted); font-size: 12px; }
    .defs { position: absolute; width: 0; height: 0; overflow: hidden; }
    @page { size: A4; margin: 12mm; }
    @media print {
      body { max-width: none; padding: 0; font-size: 10.5pt; background: #fff; color: #000; }
      h2 { break-after: avoid; } svg, tr, pre, .incomplete { break-inside: avoid; }
      pre { max-height: none; overflow: visible; }
      .usage { grid-template-columns: 110px 1fr 1fr; }
    }
    """

    /// The hidden `<svg>` with every shared definition; charts reference them by id.
    static var defs: String {
        var out = "<svg class=\"defs\" aria-hidden=\"true\" focusable=\"false\"><defs>"
        out += "<pattern id=\"hatch\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
            + "<rect width=\"8\" height=\"8\" fill=\"var(--gap)\" fill-opacity=\"0.18\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"8\" stroke=\"var(--gap)\" stroke-width=\"3\" stroke-opacity=\"0.7\"/></pattern>"
        for k in MarkKind.allCases { out += "<path id=\"\(k.symbolID)\" d=\"\(k.shape)\"/>" }
        return out + "</defs></svg>\n"
    }
}
