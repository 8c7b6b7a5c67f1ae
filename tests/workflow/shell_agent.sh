#!/usr/bin/env bash
# An agent that has only a shell (and jq) builds a bundled blueprint's app with
# appwright's verbs: start, then for each step read it (step --json), call its
# actions (act) and hand in its output (submit); questions are answered (answer).
#
#   shell_agent.sh RUN_ID BLUEPRINT        (APPWRIGHT_HOME, APPWRIGHT_API in the environment)
set -euo pipefail
run=$1
blueprint=$2
aw=${APPWRIGHT:-appwright}
HOME_OUT=$(mktemp -d)
trap 'rm -rf "$HOME_OUT"' EXIT

act() { local args=${2:-}; "$aw" act "$run" "$1" "${args:-"{}"}" | jq '.result'; }
view() { "$aw" step "$run" --json; }
# Each output names the step it is for, as an agent that may retry a submit should.
submit() { "$aw" submit "$run" "$1" --step "$(view | jq -r .step.instance)" >/dev/null; }

"$aw" start --blueprint "$blueprint" --run-id "$run" >/dev/null
spec=$(view | jq '.context.request.spec')

# 1 plan: confirm with the user, then split the spec the way later steps need it.
act ask_user '{"question": "Build this app?"}' >/dev/null
"$aw" answer "$run" yes >/dev/null
submit "$(jq '{
  app: {name, title, description, subdomain},
  table_plan: [.tables[] | {name, sql, columns: []}],
  rls_plan: .rls,
  seed_plan: [.seed[] | {table, rows}],
  site_plan: [.title as $t | .site[] | {file, data: (.data | gsub("\\{\\{APP_TITLE\\}\\}"; $t)), encoding}],
  feedback_plan: (.feedback // "")}' <<<"$spec")"

# 2 provision: a wallet with testnet money, then the project.
address=$(act ensure_wallet | jq -r '.address')
act fund_wallet >/dev/null
act create_project | jq --arg a "$address" \
  '{project_id, anon_key, service_key, schema_slot, lease_expires_at, wallet_address: $a}' >"$HOME_OUT/project.json"
submit "@$HOME_OUT/project.json"

# 3 create_tables: one run_sql per table, then what the schema says.
jq -c '.tables[] | {sql}' <<<"$spec" | while read -r sql; do act run_sql "$sql" >/dev/null; done
act get_schema | jq '{tables_created: [.tables[] | {name, columns: [.columns[].name]}]}' >"$HOME_OUT/tables.json"
submit "@$HOME_OUT/tables.json"

# 4 seed, 5 rls.
jq -c '.seed[] | select(.rows | length > 0) | {table, rows}' <<<"$spec" | while read -r rows; do
  act insert_rows "$rows" >/dev/null
done
submit "$(jq '{seeded: [.seed[] | {table, rows: (.rows | length)}]}' <<<"$spec")"
jq -c '.rls[] | {template, tables: [{table, owner_column}]}' <<<"$spec" | while read -r rule; do
  act apply_rls "$rule" >/dev/null
done
submit "$(jq '{rls_applied: .rls}' <<<"$spec")"

# 6 site, 7 deploy.
view | jq '{files: .context.site_plan}' >"$HOME_OUT/site.json"
act write_site "@$HOME_OUT/site.json" >/dev/null
submit "$(jq '{site_files: .files}' "$HOME_OUT/site.json")"
submit "$(act deploy_site | jq '{deployment_id, site_url: .url}')"

# 8 subdomain: the blueprint's name, made this project's own (the test backend is shared).
name="$(jq -r '.subdomain' <<<"$spec")-$(jq -r '.project_id[4:10]' "$HOME_OUT/project.json")"
url=$(act claim_subdomain "{\"name\": \"$name\"}" | jq -r '.url')
submit "{\"subdomain\": \"$name\", \"app_url\": \"$url\"}"

# 9 feedback.
act send_feedback '{"message": "built from a shell"}' >/dev/null
submit '{"feedback": "built from a shell", "change_request": null, "feedback_sent": true}'
view | jq -r '.app_url'
