// Harbour Photo Wall: anyone posts a picture with a caption, everyone sees the wall.
// The picture goes to storage (bucket "photos", uploads/<random>.<ext>) with the anon key;
// its caption and path go to the photos table through REST (RLS public_read_write: the
// anon key reads and writes). An <img> cannot send an apikey header, so each picture is
// shown through a signed URL (valid an hour, asked for with the anon key). The header
// line comes from the project's `summary` function.
const API = "{{API_URL}}";
const ANON_KEY = "{{ANON_KEY}}";
const BUCKET = "photos";
const REFRESH_MS = 10000;
const SIGNED_FOR_S = 3600;
const MAX_BYTES = 5 * 1024 * 1024;
const TYPES = { "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp" };

const $ = (selector) => document.querySelector(selector);

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** One HTTP call with the anon key; the parsed JSON, or an ApiError with the server's message. */
async function call(path, { method = "GET", json, body, type, prefer } = {}) {
  const headers = { apikey: ANON_KEY };
  if (json !== undefined) headers["Content-Type"] = "application/json";
  if (type) headers["Content-Type"] = type;
  if (prefer) headers.Prefer = prefer;
  let response;
  try {
    response = await fetch(`${API}${path}`, { method, headers, body: json !== undefined ? JSON.stringify(json) : body });
  } catch {
    throw new ApiError("Cannot reach the server. Check your connection and try again.", 0);
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) throw new ApiError((data && data.message) || `The server answered ${response.status}.`, response.status);
  return data;
}

const objectPath = (path) => path.split("/").map(encodeURIComponent).join("/");

// --- the wall ------------------------------------------------------------------------

const signed = new Map(); // image_path → { url, until }

async function signedUrl(path) {
  const known = signed.get(path);
  if (known && known.until > Date.now()) return known.url;
  const answer = await call(`/storage/v1/object/sign/${BUCKET}/${objectPath(path)}`, {
    method: "POST", json: { expires_in: SIGNED_FOR_S },
  });
  const url = answer.signed_url || `${API}${answer.signedURL}`;
  // Renewed ten minutes before it expires, so a picture on screen never goes blank.
  signed.set(path, { url, until: Date.now() + (SIGNED_FOR_S - 600) * 1000 });
  return url;
}

async function loadWall() {
  const rows = await call("/rest/v1/photos?select=id,caption,image_path,created_at&order=created_at.desc,id.desc");
  const urls = await Promise.all(rows.map((row) => (row.image_path ? signedUrl(row.image_path).catch(() => null) : null)));
  renderWall(rows, urls);
}

function renderWall(rows, urls) {
  const wall = $("#wall");
  const items = rows.map((row, index) => photoItem(row, urls[index]));
  wall.replaceChildren(...items);
  $("#empty").hidden = rows.length > 0;
}

function photoItem(row, url) {
  const item = document.createElement("li");
  item.className = "photo";
  item.dataset.id = row.id;
  if (url) {
    const img = document.createElement("img");
    img.src = url;
    img.alt = row.caption;
    img.loading = "lazy";
    item.append(img);
  } else {
    const tile = document.createElement("div");
    tile.className = "tile";
    tile.style.setProperty("--hue", String((row.id * 67) % 360));
    tile.textContent = "◎";
    tile.setAttribute("aria-hidden", "true");
    item.append(tile);
  }
  const caption = document.createElement("figcaption");
  const text = document.createElement("p");
  text.className = "caption";
  text.textContent = row.caption;
  const when = document.createElement("time");
  when.dateTime = row.created_at;
  when.textContent = new Date(row.created_at).toLocaleString();
  caption.append(text, when);
  item.append(caption);
  return item;
}

// --- the summary (the project's function) ---------------------------------------------

async function loadSummary() {
  const summary = await call("/functions/v1/summary");
  const posts = `${summary.posts} post${summary.posts === 1 ? "" : "s"}`;
  const photos = `${summary.photos} photo${summary.photos === 1 ? "" : "s"}`;
  $("#summary").textContent = `${posts} · ${photos}`;
  $("#latest").textContent = summary.latest.length ? `Latest: ${summary.latest.join(" · ")}` : "";
}

// --- posting -------------------------------------------------------------------------

function randomName() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function problemWith(file, caption) {
  if (!file) return "Choose a picture first.";
  if (!TYPES[file.type]) return "Pictures only: PNG, JPEG, GIF or WebP.";
  if (file.size > MAX_BYTES) return "That picture is larger than 5 MB.";
  if (!caption) return "Write a caption.";
  return null;
}

async function post(event) {
  event.preventDefault();
  const file = $("#photo-file").files[0];
  const caption = $("#photo-caption").value.trim();
  const problem = problemWith(file, caption);
  showError(problem);
  if (problem) return;
  const button = $("#photo-submit");
  button.disabled = true;
  try {
    const path = `uploads/${randomName()}.${TYPES[file.type]}`;
    await call(`/storage/v1/object/${BUCKET}/${objectPath(path)}`, { method: "POST", body: file, type: file.type });
    await call("/rest/v1/photos", {
      method: "POST", json: { caption, image_path: path, content_type: file.type }, prefer: "return=representation",
    });
    $("#upload-form").reset();
    $("#picker-label").textContent = "Choose a picture";
    toast("Posted. Thanks!");
    await refresh();
  } catch (error) {
    showError(error.message);
  } finally {
    button.disabled = false;
  }
}

function showError(message) {
  const box = $("#upload-error");
  box.textContent = message || "";
  box.hidden = !message;
}

function toast(message, kind = "info") {
  const box = $("#toast");
  box.textContent = message;
  box.className = `toast ${kind}`;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 3500);
}

async function share() {
  const data = { title: document.title, url: location.href };
  try {
    if (navigator.share) await navigator.share(data);
    else { await navigator.clipboard.writeText(location.href); toast("Link copied."); }
  } catch {
    toast("Copy the address bar to share.");
  }
}

async function refresh() {
  const [wall, summary] = await Promise.allSettled([loadWall(), loadSummary()]);
  const failed = [wall, summary].find((r) => r.status === "rejected");
  if (failed) toast(failed.reason.message, "error");
}

$("#upload-form").addEventListener("submit", post);
$("#photo-file").addEventListener("change", () => {
  const file = $("#photo-file").files[0];
  $("#picker-label").textContent = file ? file.name : "Choose a picture";
});
$("#share").addEventListener("click", share);
refresh();
setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
