-- A page of streams in stream id order whose ids start with ?1, after ?2
-- (NULL: from the first), of aggregate type ?3 (NULL: all), at most ?4:
-- each stream's head, read on the (stream_id, version) index.
SELECT e.stream_id, e.aggregate_type, e.version, e.recorded_at
FROM (SELECT stream_id, max(version) AS version
      FROM events
      WHERE stream_id >= ?1 AND (?2 IS NULL OR stream_id > ?2) AND substr(stream_id, 1, length(?1)) = ?1
      GROUP BY stream_id) head
JOIN events e ON e.stream_id = head.stream_id AND e.version = head.version
WHERE ?3 IS NULL OR e.aggregate_type = ?3
ORDER BY e.stream_id
LIMIT ?4
