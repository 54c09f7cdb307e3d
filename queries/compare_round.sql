-- One round of pairing by fingerprint: each candidate pair whose records are each other's
-- nearest in time among the candidates still unpaired (ties: the smaller id) becomes a pair.
INSERT INTO cmp_pairs
SELECT tenant, id, report_id, s_ts, CASE WHEN with_ip THEN 'fingerprint' ELSE 'fingerprint_no_ip' END
FROM (SELECT c.*, row_number() OVER (PARTITION BY tenant, id ORDER BY dt, report_id, s_ts) AS ra,
             row_number() OVER (PARTITION BY tenant, report_id, s_ts ORDER BY dt, id) AS rs
      FROM cmp_candidates c
      WHERE NOT EXISTS (SELECT 1 FROM cmp_pairs p WHERE p.tenant = c.tenant AND p.id = c.id)
        AND NOT EXISTS (SELECT 1 FROM cmp_pairs p WHERE p.tenant = c.tenant AND p.report_id = c.report_id AND p.s_ts = c.s_ts))
WHERE ra = 1 AND rs = 1;
