-- name: impossible-travel
-- question: who signed in from places too far apart for the time between the sign-ins?
-- description: Pairs each successful sign-in in the window with the same user's previous successful
-- description: sign-in (up to a day before the window starts) and reports pairs in different
-- description: countries at least min_km apart whose great-circle speed exceeds max_kmh. Failed
-- description: sign-ins are ignored, and so is a pair with a Corporate or VPN address at either end:
-- description: those are the organisation's own egress (tagged in the portal), whose location is the
-- description: exit's, not the user's.
-- kind: detection
-- chart: map, timeline
-- history: 1d
-- entities: user=user_name ip=from_ip,to_ip
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: max_kmh float 900 speed in km/h above which the travel is impossible
-- param: min_km float 500 shorter hops are GeoIP noise or neighbouring countries
-- (A day of history is enough: no pair more than a day apart can exceed 900 km/h on Earth.)
WITH l AS (
  SELECT user_name, ts, ip, country, city, latitude, longitude, ip_category, anonymous_proxy,
         lag(ts) OVER w AS p_ts, lag(ip) OVER w AS p_ip, lag(country) OVER w AS p_country,
         lag(city) OVER w AS p_city, lag(latitude) OVER w AS p_lat, lag(longitude) OVER w AS p_lon,
         lag(ip_category) OVER w AS p_cat
  FROM events
  WHERE is_login(event_type, event_type_value, action) AND action_class = 'login' AND latitude IS NOT NULL
    AND longitude IS NOT NULL AND user_name IS NOT NULL
  WINDOW w AS (PARTITION BY user_name ORDER BY ts, id)),
d AS (
  SELECT *,
         2 * 6371 * asin(sqrt(sin(radians(latitude - p_lat) / 2) ^ 2
           + cos(radians(p_lat)) * cos(radians(latitude)) * sin(radians(longitude - p_lon) / 2) ^ 2)) AS km,
         -- a minute at least, so two sign-ins in one second do not divide by zero
         greatest(epoch(ts - p_ts) / 3600.0, 1 / 60) AS hours
  FROM l WHERE p_ts IS NOT NULL AND country IS DISTINCT FROM p_country AND ts BETWEEN $since AND $until)
SELECT user_name, p_ts AS from_ts, concat_ws('/', p_country, p_city) AS from_loc, p_ip AS from_ip,
       ts AS to_ts, concat_ws('/', country, city) AS to_loc, ip AS to_ip,
       round(km)::BIGINT AS km, round(hours, 2) AS hours, round(km / hours)::BIGINT AS kmh,
       coalesce(anonymous_proxy, false) AS to_anonymous
FROM d
WHERE km >= $min_km AND km / hours > $max_kmh
  AND NOT (coalesce(p_cat, '') IN ('Corporate', 'VPN') OR coalesce(ip_category, '') IN ('Corporate', 'VPN'))
ORDER BY kmh DESC, user_name, to_ts;
