// Pocket Notes: sign up, log in, and keep private notes (RLS user_owns_rows on user_id).
// Every call sends the anon key as `apikey`; signed-in calls add `Authorization: Bearer
// <access_token>`. An answer of 401 refreshes the session once (refresh tokens are
// single-use) and retries; if the refresh is refused, the visitor logs in again.
const API = "{{API_URL}}";
const ANON_KEY = "{{ANON_KEY}}";
const SESSION_KEY = "pocket-notes.session";

const $ = (selector) => document.querySelector(selector);

class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** One HTTP call; the parsed JSON, or an ApiError carrying the server's `message`. */
async function call(path, { method = "GET", body, token, prefer } = {}) {
  const headers = { apikey: ANON_KEY };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (prefer) headers.Prefer = prefer;
  let response;
  try {
    response = await fetch(`${API}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError("Cannot reach the server. Check your connection and try again.", 0, "network");
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    throw new ApiError((data && data.message) || `The server answered ${response.status}.`, response.status, data && data.error);
  }
  return data;
}

// --- the session ---------------------------------------------------------------------

let session = readSession();

function readSession() {
  try {
    const stored = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
    return stored && stored.access_token && stored.refresh_token ? stored : null;
  } catch {
    return null;
  }
}

function keepSession(answer) {
  session = {
    access_token: answer.access_token,
    refresh_token: answer.refresh_token,
    user: answer.user || (session && session.user) || null,
  };
  localStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

function dropSession() {
  session = null;
  localStorage.removeItem(SESSION_KEY);
}

async function logIn(email, password) {
  keepSession(await call("/auth/v1/token", { method: "POST", body: { email, password } }));
}

let refreshing = null;

/** Trade the refresh token for a new session once, however many calls ask at the same time. */
function refreshSession() {
  if (!refreshing) {
    const token = session && session.refresh_token;
    refreshing = call("/auth/v1/token?grant_type=refresh_token", { method: "POST", body: { refresh_token: token } })
      .then((answer) => { keepSession(answer); return true; })
      .catch((error) => {
        if (error.status === 0) throw error; // offline: keep the session, try again later
        return false;
      })
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

/** A call as the signed-in user; on 401, refresh the session and retry once. */
async function authed(path, options = {}) {
  if (!session) throw new ApiError("Please log in first.", 401, "not_authenticated");
  const token = session.access_token;
  try {
    return await call(path, { ...options, token });
  } catch (error) {
    if (error.status !== 401) throw error;
    const refreshed = session && session.access_token !== token ? true : await refreshSession();
    if (!refreshed) {
      dropSession();
      showAuth("Your session has expired. Please log in again.");
      throw new ApiError("Your session has expired. Please log in again.", 401, "session_expired");
    }
    return call(path, { ...options, token: session.access_token });
  }
}

// --- the page ------------------------------------------------------------------------

let notes = [];

function toast(message, kind = "info") {
  const box = $("#toast");
  box.textContent = message;
  box.className = `toast ${kind}`;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 3500);
}

function authError(message) {
  const box = $("#auth-error");
  box.textContent = message || "";
  box.hidden = !message;
}

function selectTab(which) {
  const signup = which === "signup";
  $("#tab-signup").classList.toggle("active", signup);
  $("#tab-login").classList.toggle("active", !signup);
  $("#tab-signup").setAttribute("aria-selected", String(signup));
  $("#tab-login").setAttribute("aria-selected", String(!signup));
  $("#signup-form").hidden = !signup;
  $("#login-form").hidden = signup;
  authError("");
}

function showAuth(message) {
  $("#app").hidden = true;
  $("#who").hidden = true;
  $("#auth").hidden = false;
  notes = [];
  $("#notes").replaceChildren();
  authError(message || "");
  document.body.dataset.state = "signed-out";
}

async function showApp() {
  $("#auth").hidden = true;
  $("#app").hidden = false;
  $("#who").hidden = false;
  $("#user-email").textContent = (session.user && session.user.email) || "";
  document.body.dataset.state = "signed-in";
  await loadNotes();
}

async function loadNotes() {
  try {
    notes = await authed("/rest/v1/notes?select=id,title,body,created_at&order=created_at.desc");
    render();
  } catch (error) {
    if (error.code !== "session_expired") toast(error.message, "error");
  }
}

function when(iso) {
  return new Date(iso).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

function card(note) {
  const li = document.createElement("li");
  li.className = "note";
  li.dataset.id = String(note.id);
  const title = document.createElement("h2");
  title.textContent = note.title;
  const body = document.createElement("p");
  body.textContent = note.body;
  const time = document.createElement("time");
  time.dateTime = note.created_at;
  time.textContent = when(note.created_at);
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "delete";
  remove.setAttribute("aria-label", `Delete ${note.title}`);
  remove.textContent = "×";
  remove.addEventListener("click", () => deleteNote(note.id, li));
  li.append(title);
  if (note.body) li.append(body);
  li.append(time, remove);
  return li;
}

function render() {
  const query = $("#search").value.trim().toLowerCase();
  const shown = notes.filter((n) => !query || `${n.title}\n${n.body}`.toLowerCase().includes(query));
  $("#notes").replaceChildren(...shown.map(card));
  $("#empty").hidden = notes.length > 0;
  $("#count").textContent = notes.length
    ? (query ? `${shown.length} of ${notes.length}` : `${notes.length} note${notes.length === 1 ? "" : "s"}`)
    : "";
}

async function deleteNote(id, li) {
  try {
    await authed(`/rest/v1/notes?id=eq.${encodeURIComponent(id)}`, { method: "DELETE" });
    notes = notes.filter((n) => n.id !== id);
    li.classList.add("leaving");
    setTimeout(render, 260);
  } catch (error) {
    if (error.code !== "session_expired") toast(error.message, "error");
  }
}

async function busy(button, work) {
  button.disabled = true;
  try { return await work(); } finally { button.disabled = false; }
}

$("#tab-login").addEventListener("click", () => selectTab("login"));
$("#tab-signup").addEventListener("click", () => selectTab("signup"));

$("#login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("#login-submit"), async () => {
    authError("");
    try {
      await logIn($("#login-email").value.trim(), $("#login-password").value);
      $("#login-password").value = "";
      await showApp();
    } catch (error) {
      authError(error.message);
    }
  });
});

$("#signup-form").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("#signup-submit"), async () => {
    authError("");
    const email = $("#signup-email").value.trim();
    const password = $("#signup-password").value;
    try {
      await call("/auth/v1/signup", { method: "POST", body: { email, password } });
      await logIn(email, password);
      $("#signup-password").value = "";
      toast("Welcome! Your account is ready.");
      await showApp();
    } catch (error) {
      authError(error.message);
    }
  });
});

$("#note-form").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("#note-save"), async () => {
    const title = $("#note-title").value.trim();
    const body = $("#note-body").value;
    if (!title) return;
    try {
      const [note] = await authed("/rest/v1/notes", {
        method: "POST",
        body: { title, body, user_id: session.user && session.user.id },
        prefer: "return=representation",
      });
      notes.unshift(note);
      $("#note-title").value = "";
      $("#note-body").value = "";
      render();
    } catch (error) {
      if (error.code !== "session_expired") toast(error.message, "error");
    }
  });
});

$("#search").addEventListener("input", render);

$("#logout").addEventListener("click", async () => {
  const token = session && session.access_token;
  dropSession();
  showAuth("");
  selectTab("login");
  if (token) {
    try { await call("/auth/v1/logout", { method: "POST", token }); } catch { /* signed out here anyway */ }
  }
});

// Another tab logged in or out: follow it.
window.addEventListener("storage", (event) => {
  if (event.key !== SESSION_KEY) return;
  session = readSession();
  if (session) showApp(); else showAuth("");
});

if (session) showApp(); else showAuth("");
