@echo off
rem xfer-send.cmd: the weekly send, run by Task Scheduler (see
rem docs/quickstart-windows.md). It sends this week's export under a dated
rem name, appends xfer's NDJSON output and its errors to the day's log
rem files, tries again after 15 minutes when xfer ended with 1 (other
rem failure) or 5 (interrupted, state kept: the re-run resumes), up to 4
rem tries, and ends with xfer's last exit code, which Task Scheduler shows
rem as the task's "Last Run Result". cmd.exe redirects the output byte for
rem byte, so the logs are UTF-8 as xfer wrote them.
setlocal
set "XFER=C:\Program Files\xfer\xfer.exe"
set "CONFIG=C:\ProgramData\xfer\config.toml"
set "CSV=D:\Export\addresses.csv"
set "LOGS=C:\ProgramData\xfer\logs"
set TRIES=4
rem S3 credentials from a file of this folder instead of the account's
rem profile (the standard AWS variable; leave out to use %UserProfile%\.aws).
set "AWS_SHARED_CREDENTIALS_FILE=C:\ProgramData\xfer\aws-credentials"

for /f %%d in ('powershell -NoProfile -Command "Get-Date -Format yyyy-MM-dd"') do set "TODAY=%%d"
if not exist "%LOGS%" mkdir "%LOGS%"
set TRY=1
:again
"%XFER%" send --json -q --config "%CONFIG%" "%CSV%" --as "addresses-%TODAY%.csv" >>"%LOGS%\send-%TODAY%.ndjson" 2>>"%LOGS%\send-%TODAY%.err"
set CODE=%ERRORLEVEL%
rem 0 is done; 2, 3, 4 and 6 need a person: no retry.
if %CODE% NEQ 1 if %CODE% NEQ 5 goto done
if %TRY% GEQ %TRIES% goto done
set /a TRY+=1
rem (timeout.exe quits at once when its input is not a console, which under
rem Task Scheduler it may not be.)
powershell -NoProfile -Command "Start-Sleep -Seconds 900"
goto again
:done
rem Keep 90 days of logs.
forfiles /p "%LOGS%" /m send-*.* /d -90 /c "cmd /c del @path" 2>nul
exit /b %CODE%
