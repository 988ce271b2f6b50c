"""Write side of campaigns: the lifecycle (campaigns.services.campaigns), the fan-out into the
delivery ledger (fanout), member respect (respect) and the sending engine (sending)."""
