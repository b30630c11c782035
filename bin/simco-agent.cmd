@echo off
rem simco-agent from a clone of the repository, run from any folder (see bin/simco-agent).
rem Deno: %SIMCO_DENO% if set, else npx -y deno@2.9.6. Relative paths are taken from the current folder.
setlocal
set "REPO=%~dp0.."
if not exist "%REPO%\deno.json" (
  echo simco-agent: %REPO%\deno.json not found ^(expected this script in the bin folder of a simco-agent clone^) 1>&2
  exit /b 2
)
if "%SIMCO_DENO%"=="" set "SIMCO_DENO=npx -y deno@2.9.6"
set "INIT_CWD=%CD%"
%SIMCO_DENO% task --quiet --cwd "%REPO%" agent %*
exit /b %ERRORLEVEL%
