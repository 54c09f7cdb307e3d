-- name: impossible-travel
-- question: who signed in from places too far apart for the time between the sign-ins?
-- description: Pairs each successful sign-in in the window with the same user's previous successful
-- description: sign-in (before the window too) and reports pairs in different countries at least
-- description: min_km apart whose great-circle speed exceeds max_kmh. Failed sign-ins are ignored, and
-- description: so is a pair with a Corporate or VPN address at either end: those are the
-- description: organisation's own egress (tagged in the portal), whose location is the exit's, not the
-- description: user's. A pair between two countries the user already switched between as fast on an
-- description: earlier day (in the baseline_days before) is not reported again: a traveller's phone
-- description: roaming on the home carrier beside the laptop abroad does it on every trip.
-- kind: detection
-- chart: map, timeline
-- history: baseline_days
-- entities: user=user_name ip=from_ip,to_ip
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: max_kmh float 900 speed in km/h above which the travel is impossible
-- param: min_km float 500 shorter hops are GeoIP noise or neighbouring countries
-- param: baseline_days int 30 days before a pair in which an earlier switch between its two countries makes it known
WITH s AS (
  SELECT user_name, ts, day, ip, country, city, latitude, longitude, ip_category, anonymous_proxy, id
  FROM events
  WHERE is_login(event_type, event_type_value, action) AND action_class = 'login' AND latitude IS NOT NULL
    AND longitude IS NOT NULL AND user_name IS NOT NULL),
l AS (
  SELECT *, lag(ts) OVER w AS p_ts, lag(ip) OVER w AS p_ip, lag(country) OVER w AS p_country,
         lag(city) OVER w AS p_city, lag(latitude) OVER w AS p_lat, lag(longitude) OVER w AS p_lon,
         lag(ip_category) OVER w AS p_cat
  FROM s
  WINDOW w AS (PARTITION BY user_name ORDER BY ts, id)),
d AS (
  SELECT *,
         2 * 6371 * asin(sqrt(sin(radians(latitude - p_lat) / 2) ^ 2
           + cos(radians(p_lat)) * cos(radians(latitude)) * sin(radians(longitude - p_lon) / 2) ^ 2)) AS km,
         -- a minute at least, so two sign-ins in one second do not divide by zero
         greatest(epoch(ts - p_ts) / 3600.0, 1 / 60) AS hours,
         -- the two countries in either order
         least(country, p_country) || '-' || greatest(country, p_country) AS countries
  FROM l WHERE p_ts IS NOT NULL AND country IS DISTINCT FROM p_country),
-- every impossible pair of the history and the window
fast AS (
  SELECT * FROM d
  WHERE km >= $min_km AND km / hours > $max_kmh
    AND NOT (coalesce(p_cat, '') IN ('Corporate', 'VPN') OR coalesce(ip_category, '') IN ('Corporate', 'VPN'))),
-- the user's earlier days with such a switch between the same two countries
seen AS (SELECT DISTINCT user_name, countries, day FROM fast)
SELECT f.user_name, f.p_ts AS from_ts, concat_ws('/', f.p_country, f.p_city) AS from_loc, f.p_ip AS from_ip,
       f.ts AS to_ts, concat_ws('/', f.country, f.city) AS to_loc, f.ip AS to_ip,
       round(f.km)::BIGINT AS km, round(f.hours, 2) AS hours, round(f.km / f.hours)::BIGINT AS kmh,
       coalesce(f.anonymous_proxy, false) AS to_anonymous
FROM fast f
WHERE f.ts BETWEEN $since AND $until
  AND NOT EXISTS (SELECT 1 FROM seen e WHERE e.user_name = f.user_name AND e.countries = f.countries
                  AND e.day < f.day AND e.day >= f.day - to_days($baseline_days))
ORDER BY kmh DESC, f.user_name, to_ts;
