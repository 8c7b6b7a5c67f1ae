// Shared Todo: a public_read_write table, read and written with the anon key.
const API = "{{API_URL}}";
const ANON_KEY = "{{ANON_KEY}}";
const REFRESH_MS = 8000;

const $ = (selector) => document.querySelector(selector);
const list = $("#todos");
const form = $("#add-form");
const input = $("#new-task");
let todos = [];
let busy = 0; // writes in flight: a refresh waits for them

/** Call the REST API with the anon key; return the parsed JSON, or throw the server's message. */
async function rest(path, { method = "GET", body } = {}) {
  const headers = { apikey: ANON_KEY };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    headers.Prefer = "return=representation";
  }
  let response;
  try {
    response = await fetch(`${API}/rest/v1/${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new Error("Cannot reach the server. Check your connection and try again.");
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) throw new Error((data && data.message) || `The server answered ${response.status}.`);
  return data;
}

function toast(message, kind = "info") {
  const box = $("#toast");
  box.textContent = message;
  box.className = `toast ${kind}`;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 3500);
}

function ago(iso) {
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return new Date(iso).toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

function row(todo) {
  const li = document.createElement("li");
  li.className = "todo";
  li.dataset.id = todo.id;
  const box = document.createElement("input");
  box.type = "checkbox";
  box.id = `todo-${todo.id}`;
  box.addEventListener("change", () => toggle(todo.id, box.checked));
  const label = document.createElement("label");
  label.className = "task";
  label.htmlFor = box.id;
  const when = document.createElement("span");
  when.className = "when";
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "delete";
  remove.setAttribute("aria-label", "Delete task");
  remove.textContent = "×";
  remove.addEventListener("click", () => destroy(todo.id));
  li.append(box, label, when, remove);
  return li;
}

function fill(li, todo) {
  li.classList.toggle("done", todo.done);
  li.querySelector("input").checked = todo.done;
  li.querySelector(".task").textContent = todo.task;
  li.querySelector(".when").textContent = ago(todo.created_at);
}

/** Show `todos`: keep the rows that exist (no flicker), add new ones, drop gone ones. */
function render() {
  const existing = new Map([...list.children].filter((li) => !li.classList.contains("leaving")).map((li) => [li.dataset.id, li]));
  let previous = null;
  for (const todo of todos) {
    let li = existing.get(todo.id);
    existing.delete(todo.id);
    if (!li) li = row(todo);
    fill(li, todo);
    const wanted = previous ? previous.nextElementSibling : list.firstElementChild;
    if (wanted !== li) list.insertBefore(li, wanted);
    previous = li;
  }
  for (const li of existing.values()) li.remove();
  const done = todos.filter((t) => t.done).length;
  $("#summary").textContent = todos.length ? `${done} of ${todos.length} done` : "";
  $("#progress-bar").style.width = todos.length ? `${(100 * done) / todos.length}%` : "0";
  $("#empty").hidden = todos.length > 0;
}

async function load() {
  if (busy) return;
  try {
    const fresh = await rest("todos?select=id,task,done,created_at&order=created_at.asc");
    if (busy) return; // a write started meanwhile: its own update wins
    todos = fresh;
    render();
    document.body.dataset.ready = "true";
  } catch (error) {
    $("#summary").textContent = "";
    toast(error.message, "error");
  }
}

async function add(task) {
  busy++;
  try {
    const [created] = await rest("todos", { method: "POST", body: { task } });
    todos.push(created);
    render();
    return true;
  } catch (error) {
    toast(error.message, "error");
    return false;
  } finally {
    busy--;
  }
}

async function toggle(id, done) {
  const todo = todos.find((t) => t.id === id);
  if (!todo) return;
  const before = todo.done;
  todo.done = done;
  render();
  busy++;
  try {
    const [saved] = await rest(`todos?id=eq.${encodeURIComponent(id)}`, { method: "PATCH", body: { done } });
    if (saved) Object.assign(todo, saved);
    else throw new Error("Someone removed this task a moment ago.");
  } catch (error) {
    todo.done = before;
    toast(error.message, "error");
  } finally {
    busy--;
    render();
  }
}

async function destroy(id) {
  const li = list.querySelector(`li[data-id="${CSS.escape(id)}"]`);
  busy++;
  try {
    await rest(`todos?id=eq.${encodeURIComponent(id)}`, { method: "DELETE" });
    todos = todos.filter((t) => t.id !== id);
    if (li) {
      li.classList.add("leaving");
      li.addEventListener("animationend", () => { li.remove(); }, { once: true });
      setTimeout(() => li.remove(), 600);
    }
    render();
  } catch (error) {
    toast(error.message, "error");
  } finally {
    busy--;
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const task = input.value.trim();
  if (!task) return;
  const button = $("#add");
  button.disabled = true;
  if (await add(task)) input.value = "";
  button.disabled = false;
  input.focus();
});

$("#share").addEventListener("click", async () => {
  const text = "Check out this shared todo list an AI just built for me";
  const url = location.href;
  try {
    if (navigator.share) await navigator.share({ title: document.title, text, url });
    else {
      await navigator.clipboard.writeText(`${text} → ${url}`);
      toast("Link copied. Send it to whoever shares the chores!");
    }
  } catch { /* the visitor closed the share sheet */ }
});

document.addEventListener("visibilitychange", () => { if (!document.hidden) load(); });
setInterval(() => { if (!document.hidden) load(); }, REFRESH_MS);
load();
