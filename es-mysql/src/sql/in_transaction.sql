-- Whether the page's transaction is still open (MariaDB): a handler's DDL
-- commits it implicitly, and the checkpoint must not move then.
SELECT @@in_transaction
