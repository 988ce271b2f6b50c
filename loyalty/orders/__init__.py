"""Orders from every channel (store POS, Tmall, Douyin, mini-program): the purchases tiers, points,
referral commissions and staff figures are computed from."""
