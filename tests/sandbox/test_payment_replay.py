"""A payment authorization is good for one call: the sandbox refuses it the second time."""

from __future__ import annotations

import httpx

from appwright.platforms.x402pay import paying_transport
from paying import balance, new_account


class _Recorder(httpx.AsyncBaseTransport):
    """Keeps the PAYMENT-SIGNATURE of every request that carried one."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.signatures: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "payment-signature" in request.headers:
            self.signatures.append(request.headers["payment-signature"])
        return await self.inner.handle_async_request(request)


async def test_a_replayed_payment_is_refused_and_charged_once(api: str) -> None:
    account = await new_account(api)
    recorder = _Recorder()
    transport = paying_transport(account, max_per_call_micros=100_000, inner=recorder)
    async with httpx.AsyncClient(transport=transport, base_url=api) as paying:
        first = await paying.post("/v1/message", json={"message": "hello once"})
    assert first.status_code == 200, first.text
    [signature] = recorder.signatures
    async with httpx.AsyncClient(base_url=api) as plain:
        again = await plain.post("/v1/message", json={"message": "hello twice"},
                                 headers={"PAYMENT-SIGNATURE": signature})
    assert again.status_code == 402
    assert again.json()["error"] == "nonce_reused"
    assert "PAYMENT-REQUIRED" in again.headers
    assert await balance(api, account.address) == 250_000 - 10_000
