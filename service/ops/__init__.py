"""Operator tooling: the `ledger` command line, the auditor's verification, exports, the demo
seed, quarantine and reconciliation, and the local cluster demo. Each uses the commands and
views the API uses; none is imported by the serving path except the verification job."""
