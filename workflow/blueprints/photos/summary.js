// summary: what is on the wall, for the page's header line.
// It reads the photos table through REST with the key its caller sent (the site sends the
// anon key), so it sees exactly what the caller may see under RLS, and it needs no secret.
// The API is its own request's origin: /functions/v1/summary and /rest/v1 share one base.
const LATEST = 3;

const json = (body, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

export default async (req) => {
  const key = req.headers.get("apikey");
  if (!key) {
    return json({ error: "missing_apikey", message: "call this function with the project's anon key as apikey" }, 401);
  }
  const api = new URL(req.url).origin;
  const query = "select=caption,image_path,created_at&order=created_at.desc,id.desc";
  const answer = await fetch(`${api}/rest/v1/photos?${query}`, { headers: { apikey: key } });
  if (!answer.ok) {
    return json({ error: "read_failed", message: `reading the wall answered ${answer.status}` }, 502);
  }
  const rows = await answer.json();
  const photos = rows.filter((row) => row.image_path).length;
  return json({
    posts: rows.length,
    photos,
    captions_only: rows.length - photos,
    latest: rows.slice(0, LATEST).map((row) => row.caption),
    last_post_at: rows.length ? rows[0].created_at : null,
  });
};
