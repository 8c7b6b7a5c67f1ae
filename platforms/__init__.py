"""appwright.platforms: clients of the backends appwright builds on.

`run402.Run402` is the typed async client of the Run402 API (the sandbox or the hosted
service); `wallet` is the wallet file shared with the hosted CLI; `x402pay` pays 402s
with the official x402 package within a per-call cap and a per-run budget (its errors
are in `x402pay_errors`, the EIP-3009 `exact` scheme it signs with in `x402pay_exact`).
`altatech.AltaTech` is the typed async client of the AltaTech database API (tables as
JSON fields, asynchronous imports), whose rules live in `altatech_rules`.
"""
