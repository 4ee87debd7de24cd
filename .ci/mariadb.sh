# Start and stop a throwaway MariaDB server on 127.0.0.1 for the tests (sourced by .ci/run).
# Exports PIPELINE_TEST_MYSQL_URL, which the MySQL tests read; without it they skip and say so.
MARIADB_DIR="${MARIADB_DIR:-$PWD/.local/mariadb}"
MARIADB_PORT="${MARIADB_PORT:-3307}"

start_mariadb() {
  local server
  server=$(command -v mariadbd || command -v mysqld || true)
  if [ -z "$server" ]; then echo "mariadb-server is not installed: MySQL tests will skip (fail under CI=true)"; return 0; fi
  mkdir -p "$MARIADB_DIR"
  if [ ! -d "$MARIADB_DIR/data/mysql" ]; then
    mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$MARIADB_DIR/data" \
      --auth-root-authentication-method=normal >"$MARIADB_DIR/install.log" 2>&1
  fi
  "$server" --no-defaults --user="$(id -un)" --datadir="$MARIADB_DIR/data" \
    --bind-address=127.0.0.1 --port="$MARIADB_PORT" --socket="$MARIADB_DIR/mysqld.sock" \
    --pid-file="$MARIADB_DIR/mysqld.pid" --skip-name-resolve >"$MARIADB_DIR/server.log" 2>&1 &
  for _ in $(seq 1 60); do
    mariadb --no-defaults -uroot --socket="$MARIADB_DIR/mysqld.sock" -e 'select 1' >/dev/null 2>&1 && break
    sleep 0.5
  done
  mariadb --no-defaults -uroot --socket="$MARIADB_DIR/mysqld.sock" <<'SQL'
CREATE DATABASE IF NOT EXISTS pinterest_data;
CREATE USER IF NOT EXISTS 'pipeline'@'127.0.0.1' IDENTIFIED BY 'pipeline-test';
GRANT ALL ON pinterest_data.* TO 'pipeline'@'127.0.0.1';
SQL
  export PIPELINE_TEST_MYSQL_URL="mysql+pymysql://pipeline:pipeline-test@127.0.0.1:${MARIADB_PORT}/pinterest_data"
  echo "MariaDB up on 127.0.0.1:${MARIADB_PORT}"
}

stop_mariadb() {
  if [ -f "$MARIADB_DIR/mysqld.pid" ]; then
    kill "$(cat "$MARIADB_DIR/mysqld.pid")" 2>/dev/null || true
  fi
}
