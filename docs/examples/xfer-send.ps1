# xfer-send.ps1: the weekly send, run by Task Scheduler (see
# docs/quickstart-windows.md). Works in Windows PowerShell 5.1 and
# PowerShell 7. It sends this week's export under a dated name, keeps
# xfer's NDJSON output and its errors in per-run log files, retries when
# xfer ended with 1 (other failure) or 5 (interrupted, state kept: the
# re-run resumes), and ends with xfer's last exit code, which Task
# Scheduler shows as the task's "Last Run Result".

$xfer   = 'C:\Program Files\xfer\xfer.exe'
$config = 'C:\ProgramData\xfer\config.toml'
$csv    = 'D:\Export\addresses.csv'
$logs   = 'C:\ProgramData\xfer\logs'
$tries  = 4                          # the first run and 3 retries
$wait   = New-TimeSpan -Minutes 15   # between tries

# S3 credentials from a file of this folder instead of the account's
# profile (the standard AWS variable; leave out to use %UserProfile%\.aws).
$env:AWS_SHARED_CREDENTIALS_FILE = 'C:\ProgramData\xfer\aws-credentials'

$today = Get-Date -Format 'yyyy-MM-dd'
# Start-Process joins the arguments with spaces: quote any that hold one,
# as '"D:\My Export\addresses.csv"'.
$argv = @('send', '--json', '-q', '--config', $config, $csv, '--as', "addresses-$today.csv")

New-Item -ItemType Directory -Force -Path $logs | Out-Null
$code = 1
for ($try = 1; $try -le $tries; $try++) {
    $run = Get-Date -Format 'yyyy-MM-dd_HHmmss'
    # Start-Process writes xfer's output to the files as xfer wrote it
    # (UTF-8), unlike PowerShell 5's > and 2> (UTF-16, and stderr lines
    # wrapped as PowerShell errors).
    $p = Start-Process -FilePath $xfer -ArgumentList $argv -NoNewWindow -Wait -PassThru `
        -RedirectStandardOutput "$logs\send-$run.ndjson" -RedirectStandardError "$logs\send-$run.err"
    $code = $p.ExitCode
    if ($code -ne 1 -and $code -ne 5) { break }   # 0 done; 2, 3, 4, 6 need a person
    if ($try -lt $tries) { Start-Sleep -Seconds $wait.TotalSeconds }
}

# Keep 90 days of logs.
Get-ChildItem -Path $logs -File | Where-Object LastWriteTime -lt (Get-Date).AddDays(-90) | Remove-Item

exit $code
