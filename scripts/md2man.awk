# Turns docs/CONFIG.md into the man page histd.toml(5): headings, paragraphs, code blocks, tables
# (one .TP entry per row: the first cell in bold, the other cells after it), `code` and **bold**.
function esc(s) {
    gsub(/\\/, "\\e", s)
    gsub(/`[^`]*`/, "&", s)
    while (match(s, /`[^`]*`/)) s = substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 1, RLENGTH - 2) "\\fR" substr(s, RSTART + RLENGTH)
    while (match(s, /\*\*[^*]+\*\*/)) s = substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 2, RLENGTH - 4) "\\fR" substr(s, RSTART + RLENGTH)
    while (match(s, /\[[^]]+\]\([^)]+\)/)) { t = substr(s, RSTART + 1); t = substr(t, 1, index(t, "]") - 1); s = substr(s, 1, RSTART - 1) t substr(s, RSTART + RLENGTH) }
    gsub(/-/, "\\-", s)
    if (s ~ /^[.']/) s = "\\&" s
    return s
}
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
BEGIN {
    print ".\\\" Generated from docs/CONFIG.md by scripts/gen-man.sh; do not edit."
    print ".TH HISTD.TOML 5 \"" date "\" \"histd\" \"File Formats\""
    print ".SH NAME"
    print "histd.toml \\- histd configuration file"
    incode = 0; header = 0
}
/^```/ { if (incode) { print ".fi"; print ".RE"; incode = 0 } else { print ".PP"; print ".RS 4"; print ".nf"; incode = 1 }; next }
incode { line = $0; gsub(/\\/, "\\e", line); if (line ~ /^[.']/) line = "\\&" line; print line; next }
/^# / { next }
/^## / { print ".SH " toupper(esc(substr($0, 4))); next }
/^### / { print ".SS " esc(substr($0, 5)); next }
/^\|/ {
    n = split($0, cells, "|")
    if ($0 ~ /^\|[-| :]+\|$/) next
    if (!header) { header = 1; next }   # the column names of this table
    first = trim(cells[2]); rest = ""
    for (i = 3; i < n; i++) { c = trim(cells[i]); if (c != "") rest = rest (rest == "" ? "" : "; ") c }
    print ".TP"; print esc(first); print esc(rest)
    next
}
/^[ \t]*$/ { header = 0; print ".PP"; next }
/^[-*] / { header = 0; print ".IP \\(bu 2"; print esc(substr($0, 3)); next }
{ header = 0; print esc(trim($0)) }
