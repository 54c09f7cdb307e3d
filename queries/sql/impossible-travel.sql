-- name: impossible-travel
-- question: who signed in from places too far apart for the time between the sign-ins?
-- description: Pairs each successful sign-in with the same user's previous successful sign-in and
-- description: reports pairs in different countries at least min_km apart whose great-circle speed
-- description: exceeds max_kmh. Failed sign-ins are ignored; a pair where both IPs are Corporate or
-- description: VPN is dropped, as Defender for Cloud Apps does.
-- chart: map, timeline
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: max_kmh float 900 speed in km/h above which the travel is impossible
-- param: min_km float 500 shorter hops are GeoIP noise or neighbouring countries
WITH l AS (
  SELECT user_name, ts, ip, country, city, latitude, longitude, ip_category, anonymous_proxy,
         lag(ts) OVER w AS p_ts, lag(ip) OVER w AS p_ip, lag(country) OVER w AS p_country,
         lag(city) OVER w AS p_city, lag(latitude) OVER w AS p_lat, lag(longitude) OVER w AS p_lon,
         lag(ip_category) OVER w AS p_cat
  FROM classified
  WHERE is_login(event_type, action) AND op_class = 'login' AND latitude IS NOT NULL AND longitude IS NOT NULL AND user_name IS NOT NULL
    AND ts BETWEEN $since AND $until
  WINDOW w AS (PARTITION BY user_name ORDER BY ts, id)),
d AS (
  SELECT *,
         2 * 6371 * asin(sqrt(sin(radians(latitude - p_lat) / 2) ^ 2
           + cos(radians(p_lat)) * cos(radians(latitude)) * sin(radians(longitude - p_lon) / 2) ^ 2)) AS km,
         -- a minute at least, so two sign-ins in one second do not divide by zero
         greatest(epoch(ts - p_ts) / 3600.0, 1 / 60) AS hours
  FROM l WHERE p_ts IS NOT NULL AND country IS DISTINCT FROM p_country)
SELECT user_name, p_ts AS from_ts, concat_ws('/', p_country, p_city) AS from_loc, p_ip AS from_ip,
       ts AS to_ts, concat_ws('/', country, city) AS to_loc, ip AS to_ip,
       round(km)::BIGINT AS km, round(hours, 2) AS hours, round(km / hours)::BIGINT AS kmh,
       coalesce(anonymous_proxy, false) AS to_anonymous
FROM d
WHERE km >= $min_km AND km / hours > $max_kmh
  AND NOT (coalesce(p_cat, '') IN ('Corporate', 'VPN') AND coalesce(ip_category, '') IN ('Corporate', 'VPN'))
ORDER BY kmh DESC, user_name, to_ts;
