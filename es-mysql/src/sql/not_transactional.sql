-- The tables of the current database whose engine cannot roll back.
SELECT t.TABLE_NAME, t.ENGINE
FROM information_schema.TABLES t
JOIN information_schema.ENGINES e ON e.ENGINE = t.ENGINE
WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' AND e.TRANSACTIONS <> 'YES'
ORDER BY t.TABLE_NAME
