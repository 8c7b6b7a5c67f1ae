"""Step 6: Build the Site — the app's pages, calling the API with the anon key."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from appwright.memory import MemoryDirective, StepId

from .base import Action, ActionContext, ActionFailed, Step, VerifyFailed
from .sitecheck import SiteRejected, check_site_files

__all__ = ["SITE", "SiteOutput", "SiteFile"]


class SiteFile(BaseModel):
    """One file of the site; text may hold the placeholders {{API_URL}} and {{ANON_KEY}}."""

    file: str = Field(min_length=1)
    data: str
    encoding: Literal["utf-8", "base64"] = "utf-8"


class WriteSiteArgs(BaseModel):
    """The whole site."""

    files: list[SiteFile] = Field(min_length=1)


async def write_site(ctx: ActionContext, args: WriteSiteArgs) -> dict[str, Any]:
    files = [f.model_dump() for f in args.files]
    try:
        check_site_files(files)
    except SiteRejected as rejected:
        raise ActionFailed(str(rejected)) from None
    return {"files": [f["file"] for f in files], "bytes": sum(len(f["data"]) for f in files)}


class SiteOutput(BaseModel):
    """site_files — the files to deploy."""

    site_files: list[SiteFile] = Field(min_length=1)


async def _verify(ctx: ActionContext, output: SiteOutput) -> None:
    try:
        check_site_files([f.model_dump() for f in output.site_files])
    except SiteRejected as rejected:
        raise VerifyFailed(str(rejected)) from None


SITE = Step(
    number=6,
    id=StepId("site"),
    title="Build the Site",
    phase="implement",
    context=("app", "site_plan", "tables_created", "rls_applied"),
    optional_context=("change_request",),
    actions=(
        Action(name="write_site", description="Check the site's files (anon key only, HTML parses).",
               args=WriteSiteArgs, run=write_site,
               summary=lambda r: f"{len(r.get('files', []))} files, {r.get('bytes')} bytes"),
    ),
    output=SiteOutput,
    verify=_verify,
    tell_user="I've built the pages of your app.",
    memory=MemoryDirective(
        carry_forward={"app", "tables_created", "rls_applied"},
        store={"site_files"},
    ),
)
