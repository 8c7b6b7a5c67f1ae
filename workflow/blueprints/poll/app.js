// Offsite Poll: public results and guestbook (RLS public_read: the anon key reads),
// votes and signatures from signed-in visitors (Authorization: Bearer <access_token>).
// One vote per person: votes.voter defaults to auth.uid() and is UNIQUE; voting again
// moves that vote. A 401 refreshes the session once and retries.
const API = "{{API_URL}}";
const ANON_KEY = "{{ANON_KEY}}";
const SESSION_KEY = "offsite-poll.session";
const REFRESH_MS = 10000;

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

function refreshSession() {
  if (!refreshing) {
    const token = session && session.refresh_token;
    refreshing = call("/auth/v1/token?grant_type=refresh_token", { method: "POST", body: { refresh_token: token } })
      .then((answer) => { keepSession(answer); return true; })
      .catch((error) => {
        if (error.status === 0) throw error;
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
      showAccount();
      openAuth("Your session has expired. Please log in again.");
      throw new ApiError("Your session has expired. Please log in again.", 401, "session_expired");
    }
    return call(path, { ...options, token: session.access_token });
  }
}

// --- state ---------------------------------------------------------------------------

let options = [];
let counts = new Map();
let myVote = null; // { id, option_id } of the signed-in visitor's vote
let entries = [];
let pending = null; // what the visitor wanted before logging in: { vote: id } or { sign: true }

function toast(message, kind = "info") {
  const box = $("#toast");
  box.textContent = message;
  box.className = `toast ${kind}`;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 3500);
}

function userId() {
  return session && session.user ? session.user.id : null;
}

// --- results -------------------------------------------------------------------------

async function loadResults() {
  const [rows, votes] = await Promise.all([
    call("/rest/v1/options?select=id,label&order=id.asc"),
    call("/rest/v1/votes?select=option_id"),
  ]);
  options = rows;
  counts = new Map();
  for (const vote of votes) counts.set(vote.option_id, (counts.get(vote.option_id) || 0) + 1);
  renderOptions();
}

async function loadMyVote() {
  myVote = null;
  const id = userId();
  if (!id) return;
  const [mine] = await authed(`/rest/v1/votes?select=id,option_id&voter=eq.${encodeURIComponent(id)}`);
  myVote = mine || null;
}

function optionButton(option, index) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "option";
  button.dataset.id = String(option.id);
  button.style.animationDelay = `${index * 60}ms`;
  const fill = document.createElement("span");
  fill.className = "fill";
  const label = document.createElement("span");
  label.className = "label";
  const count = document.createElement("span");
  count.className = "count";
  button.append(fill, label, count);
  button.addEventListener("click", () => vote(option.id));
  li.append(button);
  return li;
}

function renderOptions() {
  const list = $("#options");
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const best = Math.max(0, ...counts.values());
  const existing = new Map([...list.querySelectorAll(".option")].map((b) => [b.dataset.id, b.parentElement]));
  options.forEach((option, index) => {
    let li = existing.get(String(option.id));
    existing.delete(String(option.id));
    if (!li) li = optionButton(option, index);
    list.append(li); // keeps the order of `options`
    const button = li.querySelector(".option");
    const n = counts.get(option.id) || 0;
    const share = total ? Math.round((100 * n) / total) : 0;
    button.querySelector(".label").textContent = option.label;
    const count = button.querySelector(".count");
    const text = `${n} vote${n === 1 ? "" : "s"} · ${share}%`;
    if (count.dataset.n !== undefined && count.dataset.n !== String(n)) {
      button.classList.remove("bump");
      void button.offsetWidth; // restart the animation
      button.classList.add("bump");
    }
    count.dataset.n = String(n);
    count.replaceChildren(Object.assign(document.createElement("strong"), { textContent: `${n}` }), ` vote${n === 1 ? "" : "s"} · ${share}%`);
    count.setAttribute("aria-label", text);
    button.querySelector(".fill").style.width = `${share}%`;
    button.classList.toggle("mine", Boolean(myVote && myVote.option_id === option.id));
    button.classList.toggle("leading", n > 0 && n === best);
  });
  for (const li of existing.values()) li.remove();
  $("#total").textContent = `${total} vote${total === 1 ? "" : "s"}`;
  $("#vote-hint").textContent = session ? (myVote ? "tap another option to change your vote" : "tap an option to vote") : "log in to vote";
}

async function vote(optionId) {
  if (!session) {
    pending = { vote: optionId };
    openAuth("Sign up or log in to cast your vote.");
    return;
  }
  if (myVote && myVote.option_id === optionId) {
    toast("That is already your vote.");
    return;
  }
  try {
    if (!myVote) {
      try {
        [myVote] = await authed("/rest/v1/votes", { method: "POST", body: { option_id: optionId }, prefer: "return=representation" });
        toast("Vote counted. Thanks!");
      } catch (error) {
        if (error.status !== 400 && error.status !== 409) throw error;
        await loadMyVote(); // already voted (maybe in another tab): move that vote
        if (!myVote) throw error;
      }
    }
    if (myVote.option_id !== optionId) {
      const [moved] = await authed(`/rest/v1/votes?id=eq.${myVote.id}`, { method: "PATCH", body: { option_id: optionId }, prefer: "return=representation" });
      myVote = moved || null;
      toast("Vote changed.");
    }
    await loadResults();
  } catch (error) {
    if (error.code !== "session_expired") toast(error.message, "error");
  }
}

// --- guestbook -----------------------------------------------------------------------

async function loadEntries() {
  entries = await call("/rest/v1/guestbook?select=id,name,message,created_at&order=created_at.desc&limit=50");
  renderEntries();
}

function entryItem(entry) {
  const li = document.createElement("li");
  li.className = "entry";
  li.dataset.id = String(entry.id);
  const avatar = document.createElement("span");
  avatar.className = "avatar";
  avatar.textContent = (entry.name.trim()[0] || "?").toUpperCase();
  const meta = document.createElement("div");
  meta.className = "meta";
  const name = document.createElement("strong");
  name.className = "name";
  name.textContent = entry.name;
  const time = document.createElement("time");
  time.dateTime = entry.created_at;
  time.textContent = new Date(entry.created_at).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  meta.append(name, time);
  const message = document.createElement("div");
  message.className = "message";
  message.textContent = entry.message;
  li.append(avatar, meta, message);
  return li;
}

function renderEntries() {
  const list = $("#entries");
  const existing = new Map([...list.children].map((li) => [li.dataset.id, li]));
  const items = entries.map((entry) => existing.get(String(entry.id)) || entryItem(entry));
  list.replaceChildren(...items);
  $("#entry-count").textContent = `${entries.length} signature${entries.length === 1 ? "" : "s"}`;
}

// --- account & auth panel ------------------------------------------------------------

function showAccount() {
  const signedIn = Boolean(session);
  $("#user-email").hidden = !signedIn;
  $("#user-email").textContent = signedIn && session.user ? session.user.email : "";
  $("#login-open").hidden = signedIn;
  $("#logout").hidden = !signedIn;
  $("#sign-form").hidden = !signedIn;
  $("#sign-prompt").hidden = signedIn;
  if (signedIn && !$("#sign-name").value && session.user) {
    const local = session.user.email.split("@")[0];
    $("#sign-name").value = (local[0] || "").toUpperCase() + local.slice(1, 40);
  }
  document.body.dataset.state = signedIn ? "signed-in" : "signed-out";
}

function openAuth(reason) {
  $("#auth-reason").textContent = reason || "Sign up or log in to vote and to sign the guestbook.";
  authError("");
  $("#auth").hidden = false;
  ($("#login-form").hidden ? $("#signup-email") : $("#login-email")).focus();
}

function closeAuth() {
  $("#auth").hidden = true;
}

function authError(message) {
  $("#auth-error").textContent = message || "";
  $("#auth-error").hidden = !message;
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

async function afterLogin() {
  closeAuth();
  showAccount();
  try {
    await loadMyVote();
  } catch (error) {
    if (error.code !== "session_expired") toast(error.message, "error");
  }
  renderOptions();
  const wanted = pending;
  pending = null;
  if (wanted && wanted.vote) await vote(wanted.vote);
  if (wanted && wanted.sign) $("#sign-message").focus();
}

async function busy(button, work) {
  button.disabled = true;
  try { return await work(); } finally { button.disabled = false; }
}

$("#tab-login").addEventListener("click", () => selectTab("login"));
$("#tab-signup").addEventListener("click", () => selectTab("signup"));
$("#auth-close").addEventListener("click", () => { pending = null; closeAuth(); });
$("#auth").addEventListener("click", (event) => { if (event.target === $("#auth")) { pending = null; closeAuth(); } });
document.addEventListener("keydown", (event) => { if (event.key === "Escape" && !$("#auth").hidden) { pending = null; closeAuth(); } });
$("#login-open").addEventListener("click", () => openAuth());
$("#sign-login").addEventListener("click", () => { pending = { sign: true }; openAuth("Sign up or log in to sign the guestbook."); });

$("#login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("#login-submit"), async () => {
    authError("");
    try {
      await logIn($("#login-email").value.trim(), $("#login-password").value);
      $("#login-password").value = "";
      await afterLogin();
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
      await afterLogin();
    } catch (error) {
      authError(error.message);
    }
  });
});

$("#logout").addEventListener("click", async () => {
  const token = session && session.access_token;
  dropSession();
  myVote = null;
  showAccount();
  renderOptions();
  if (token) {
    try { await call("/auth/v1/logout", { method: "POST", token }); } catch { /* signed out here anyway */ }
  }
});

$("#sign-form").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("#sign-submit"), async () => {
    const name = $("#sign-name").value.trim();
    const message = $("#sign-message").value.trim();
    if (!name || !message) return;
    try {
      const [entry] = await authed("/rest/v1/guestbook", { method: "POST", body: { name, message }, prefer: "return=representation" });
      entries.unshift(entry);
      renderEntries();
      $("#sign-message").value = "";
      toast("Thanks for signing!");
    } catch (error) {
      if (error.code !== "session_expired") toast(error.message, "error");
    }
  });
});

$("#share").addEventListener("click", async () => {
  const text = "Vote on our team offsite, an AI just built this poll for us";
  try {
    if (navigator.share) await navigator.share({ title: document.title, text, url: location.href });
    else {
      await navigator.clipboard.writeText(`${text} → ${location.href}`);
      toast("Link copied. Send it to the team!");
    }
  } catch { /* share sheet closed */ }
});

async function refresh() {
  try {
    await Promise.all([loadResults(), loadEntries()]);
    document.body.dataset.ready = "true";
  } catch (error) {
    toast(error.message, "error");
  }
}

window.addEventListener("storage", (event) => {
  if (event.key !== SESSION_KEY) return;
  session = readSession();
  showAccount();
  loadMyVote().then(renderOptions, () => renderOptions());
});

showAccount();
if (session) loadMyVote().then(renderOptions, () => renderOptions());
refresh();
setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
