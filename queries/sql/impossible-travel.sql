-- name: impossible-travel
-- question: who signed in from places too far apart for the time between the sign-ins?
-- description: Pairs each successful sign-in in the window with the same user's previous successful
-- description: sign-in (up to a day before the window too) and reports pairs in different countries
-- description: at least min_km apart whose great-circle speed exceeds max_kmh. Failed sign-ins are
-- description: ignored, and so is a pair with a Corporate or VPN address at either end: those are the
-- description: organisation's own egress (tagged in the portal), whose location is the exit's, not the
-- description: user's. A pair between two countries the user already switched between as fast on an
-- description: earlier day (in the baseline_days before) is not reported again: a traveller's phone
-- description: roaming on the home carrier beside the laptop abroad does it on every trip.
-- kind: detection
-- chart: map, timeline
-- history: baseline_days
-- entities: user=user_name ip=from_ip,to_ip
-- severity: medium
-- severity-rises: high when to_anonymous
-- tactics: TA0001
-- techniques: T1078.004
-- counterpart: Defender for Cloud Apps "Impossible travel"; Sigma microsoft365_impossible_travel_activity.yml
-- sources: activities
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: max_kmh float 900 speed in km/h above which the travel is impossible
-- param: min_km float 500 shorter hops are GeoIP noise or neighbouring countries
-- param: baseline_days int 30 days before a pair in which an earlier switch between its two countries makes it known
-- Two passes keep the history cheap: the window's pairs first (a day before the window is enough
-- for the previous sign-in: no pair more than a day apart can exceed 900 km/h on Earth), then
-- the earlier switches of their few users alone.
WITH s AS NOT MATERIALIZED (
  SELECT user_name, ts, day, ip, country, city, latitude, longitude, ip_category, anonymous_proxy, id
  FROM events
  WHERE is_login(event_type, event_type_value, action) AND action_class = 'login' AND latitude IS NOT NULL
    AND longitude IS NOT NULL AND user_name IS NOT NULL),
now AS (
  SELECT * FROM (
    SELECT *, lag({'ts': ts, 'ip': ip, 'country': country, 'city': city, 'lat': latitude, 'lon': longitude, 'cat': ip_category, 'id': id})
                OVER (PARTITION BY user_name ORDER BY ts, id) AS p
    FROM s WHERE ts >= $since - INTERVAL 1 DAY)
  WHERE ts BETWEEN $since AND $until AND p.ts IS NOT NULL AND country IS DISTINCT FROM p.country),
fast AS (
  SELECT *, travel_km(p.lat, p.lon, latitude, longitude) AS km, travel_hours(p.ts, ts) AS hours FROM now
  WHERE travel_km(p.lat, p.lon, latitude, longitude) >= $min_km
    AND travel_km(p.lat, p.lon, latitude, longitude) / travel_hours(p.ts, ts) > $max_kmh
    AND NOT (is_org_egress(p.cat) OR is_org_egress(ip_category))),
-- the days on which those users switched as fast between two countries, whole history (sign-ins
-- at the same instant in the order of what this reads, not by id: sign-ins alike in all of it
-- give the same answer in either order, and the ids are the widest column of the table, which
-- this pass would otherwise read for every row of the history)
before AS (
  SELECT user_name, day, least(country, p.country) || '-' || greatest(country, p.country) AS countries FROM (
    SELECT *, lag({'ts': ts, 'country': country, 'lat': latitude, 'lon': longitude, 'cat': ip_category})
                OVER (PARTITION BY user_name ORDER BY ts, country, latitude, longitude, ip_category) AS p
    FROM s WHERE user_name IN (SELECT user_name FROM fast))
  WHERE p.ts IS NOT NULL AND country IS DISTINCT FROM p.country
    AND travel_km(p.lat, p.lon, latitude, longitude) >= $min_km
    AND travel_km(p.lat, p.lon, latitude, longitude) / travel_hours(p.ts, ts) > $max_kmh
    AND NOT (is_org_egress(p.cat) OR is_org_egress(ip_category)))
SELECT f.user_name, f.p.ts AS from_ts, concat_ws('/', f.p.country, f.p.city) AS from_loc, f.p.ip AS from_ip,
       f.ts AS to_ts, concat_ws('/', f.country, f.city) AS to_loc, f.ip AS to_ip,
       round(f.km)::BIGINT AS km, round(f.hours, 2) AS hours, round(f.km / f.hours)::BIGINT AS kmh,
       coalesce(f.anonymous_proxy, false) AS to_anonymous,
       f.p.ts AS first_seen, f.ts AS last_seen, [f.p.id, f.id] AS evidence_ids
FROM fast f
WHERE NOT EXISTS (
  SELECT 1 FROM before b
  WHERE b.user_name = f.user_name AND b.countries = least(f.country, f.p.country) || '-' || greatest(f.country, f.p.country)
    AND b.day < f.day AND b.day >= f.day - to_days($baseline_days))
ORDER BY kmh DESC, f.user_name, to_ts;
