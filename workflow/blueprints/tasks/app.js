// Team Tasks: a public_read table, read with the anon key.
const API = "{{API_URL}}";
const ANON_KEY = "{{ANON_KEY}}";

const list = document.querySelector("#tasks");

/** One task as a list item (text only: no HTML from the data). */
function item(task) {
  const li = document.createElement("li");
  li.className = task.done ? "done" : "";
  const due = task.due_at ? ` · due ${new Date(task.due_at).toLocaleDateString()}` : "";
  li.textContent = `P${task.priority ?? "-"} ${task.task}${due}`;
  return li;
}

async function load() {
  try {
    const response = await fetch(`${API}/rest/v1/tasks?select=*&order=priority.asc,id.asc`, {
      headers: { apikey: ANON_KEY },
    });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    const tasks = await response.json();
    list.replaceChildren(...tasks.map(item));
  } catch (error) {
    list.replaceChildren(Object.assign(document.createElement("li"), { textContent: `Cannot load the tasks: ${error.message}` }));
  }
}

load();
