-- Fair claiming (engine::lease::claim): workers pick the tenant with the fewest flows in
-- flight, then the one served least recently, and claim that tenant's oldest runnable
-- flow. Both questions are index probes per client account, whatever the other tenants'
-- backlog: "has this account a runnable flow" and "how many flows of this account hold a
-- lease".
CREATE INDEX flows_runnable_by_account ON flows (client_account_id, runnable_at)
    WHERE runnable_at IS NOT NULL;
CREATE INDEX flows_leased_by_account ON flows (client_account_id, lease_expires_at)
    WHERE lease_owner IS NOT NULL;
