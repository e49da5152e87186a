"""Live execution (issue 16): real swaps through Jupiter on Solana.

`signer` holds the keypair and signs what it is handed; `jupiter` speaks the Swap API
(quote, swap); `chain` speaks Solana JSON-RPC (send with preflight, confirm against the
blockhash's last valid height, read balances and a landed transaction's balance
changes); `executor` runs one order through pre-flight checks, quote, swap, signature,
send and confirmation, and says what happened as a fill (from the balance changes) or a
reject with a reason and a category.
"""
