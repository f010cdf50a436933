-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d/):
-- one database per service, all owned by $POSTGRES_USER (the connecting user).
CREATE DATABASE mlflow;
CREATE DATABASE prefect;
CREATE DATABASE optuna;
