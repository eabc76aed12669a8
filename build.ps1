#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Set up, build, test, run and package PaddedAttention (PowerShell, Windows or Linux).

.DESCRIPTION
    The same commands as build.sh:
      setup      report (and on Linux install) what is missing
      build      native library (CMake, Release) + .NET solution (Release)
      test       build, then every suite; the last line is "N passed, N failed, N skipped"
      demo       build, then run samples/EmbeddingBatch (remaining arguments are passed on)
      bindings   regenerate src/Managed/Interop/NativeMethods.g.cs and bindings/python/paddedattn/_native.py from the C header
      pack       NuGet package with the native library under runtimes/<rid>/native, into artifacts/
    On Linux and macOS every command runs build.sh, so both scripts behave the same.
    Environment: PADDEDATTN_CUDA=AUTO|ON|OFF, CMAKE_CUDA_ARCHITECTURES, PADDEDATTN_BUILD_DIR,
    PADDEDATTN_JOBS, PADDEDATTN_CLANG (default clang-14, else clang).

.EXAMPLE
    ./build.ps1 test
.EXAMPLE
    ./build.ps1 demo --batch 8
#>
param(
    [Parameter(Position = 0)]
    [ValidateSet('setup', 'build', 'test', 'demo', 'bindings', 'pack', 'help')]
    [string] $Command = 'help',

    [Parameter(Position = 1, ValueFromRemainingArguments = $true)]
    [string[]] $Arguments = @()
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$Root = $PSScriptRoot

if ($Command -eq 'help') {
    Get-Help $PSCommandPath -Detailed
    exit 0
}

# Outside Windows, build.sh is the implementation. (Windows PowerShell 5.1
# has no $IsWindows and runs only on Windows.)
$OnWindows = ($PSVersionTable.PSVersion.Major -lt 6) -or $IsWindows
if (-not $OnWindows) {
    & bash (Join-Path $Root 'build.sh') $Command @Arguments
    exit $LASTEXITCODE
}

# ---------------------------------------------------------------- Windows --

$BuildDir = if ($env:PADDEDATTN_BUILD_DIR) { $env:PADDEDATTN_BUILD_DIR } else { Join-Path $Root 'build' }
$NativeBuild = Join-Path $BuildDir 'native'
$ResultsDir = Join-Path $BuildDir 'test-results'
$Configuration = 'Release'
$Jobs = if ($env:PADDEDATTN_JOBS) { $env:PADDEDATTN_JOBS } else { [Environment]::ProcessorCount }
$Solution = Join-Path $Root 'PaddedAttention.slnx'
$ManagedProject = Join-Path $Root 'src/Managed/PaddedAttention.csproj'
$BindingsProject = 'bindings/PaddedAttention.Bindings'
$DemoProject = Join-Path $Root 'samples/EmbeddingBatch'
$GeneratedBindings = 'src/Managed/Interop/NativeMethods.g.cs'
$GeneratedPython = 'bindings/python/paddedattn/_native.py'
$Header = 'native/include/paddedattn.h'
$CudaMode = if ($env:PADDEDATTN_CUDA) { $env:PADDEDATTN_CUDA } else { 'AUTO' }

$env:DOTNET_NOLOGO = '1'
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:MSBUILDDISABLENODEREUSE = '1'

function Say([string] $Message) { Write-Host "==> $Message" }
function Test-Command([string] $Name) { [bool](Get-Command $Name -ErrorAction SilentlyContinue) }

# Runs a native command; returns its exit code instead of throwing.
function Invoke-Native([string] $File, [string[]] $CommandArguments) {
    & $File @CommandArguments | Out-Host
    return $LASTEXITCODE
}

function Get-Clang {
    if ($env:PADDEDATTN_CLANG) { return $env:PADDEDATTN_CLANG }
    if (Test-Command 'clang-14') { return 'clang-14' }
    return 'clang'
}

function Test-DotnetSdk10 {
    if (-not (Test-Command 'dotnet')) { return $false }
    return [bool](& dotnet --list-sdks | Where-Object { $_ -match '^10\.' })
}

function Invoke-Setup {
    $missing = @()
    foreach ($tool in @('cmake', 'python')) {
        if (-not (Test-Command $tool)) { $missing += $tool }
    }
    if (-not (Test-Command (Get-Clang))) { $missing += 'clang (LLVM), for the bindings generator' }
    if (-not (Test-DotnetSdk10)) { $missing += '.NET 10 SDK' }
    if (-not (Test-Command 'nvcc')) {
        Say 'no CUDA toolkit (nvcc) found: the build will be CPU-only (install the CUDA toolkit for the CUDA backend)'
    }
    if ($missing.Count -gt 0) {
        Write-Warning ("missing: " + ($missing -join ', ') + ' (install them; this script installs nothing on Windows)')
        return 1
    }
    Say 'setup: ready'
    return 0
}

$script:NativeLib = $null

function Invoke-NativeBuild([string] $Directory, [string] $Mode) {
    $cmakeArgs = @('-S', (Join-Path $Root 'native'), '-B', $Directory, "-DPADDEDATTN_CUDA=$Mode")
    if ($env:CMAKE_CUDA_ARCHITECTURES) { $cmakeArgs += "-DCMAKE_CUDA_ARCHITECTURES=$($env:CMAKE_CUDA_ARCHITECTURES)" }
    Say "native: cmake configure ($Directory, PADDEDATTN_CUDA=$Mode)"
    if ((Invoke-Native 'cmake' $cmakeArgs) -ne 0) { return $false }
    Say "native: cmake build ($Configuration, $Jobs jobs)"
    if ((Invoke-Native 'cmake' @('--build', $Directory, '--config', $Configuration, '--parallel', "$Jobs")) -ne 0) { return $false }
    $lib = Get-ChildItem -Path $Directory -Recurse -Filter 'paddedattn.dll' -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $lib) { Write-Warning "no paddedattn.dll under $Directory"; return $false }
    $script:NativeLib = $lib.FullName
    $env:PADDEDATTN_NATIVE_LIB = $script:NativeLib
    Say "native library: $($script:NativeLib)"
    return $true
}

function Invoke-DotnetBuild {
    if (-not (Test-DotnetSdk10)) { Write-Warning 'the .NET 10 SDK is not installed'; return $false }
    Say "dotnet build $(Split-Path $Solution -Leaf) -c $Configuration"
    return ((Invoke-Native 'dotnet' @('build', $Solution, '-c', $Configuration, '-nologo', '-v:minimal')) -eq 0)
}

function Invoke-Build {
    if (-not (Invoke-NativeBuild $NativeBuild $CudaMode)) { throw 'the native build failed' }
    if (-not (Invoke-DotnetBuild)) { throw 'the .NET build failed' }
    Say 'build: done'
}

# ------------------------------------------------------------------- test --

$script:Results = [System.Collections.Generic.List[object]]::new()
function Add-Result([string] $Name, [int] $Passed, [int] $Failed, [int] $Skipped, [string] $Note = '') {
    $script:Results.Add([pscustomobject]@{ Name = $Name; Passed = $Passed; Failed = $Failed; Skipped = $Skipped; Note = $Note })
}

function Invoke-CTest([string] $Directory) {
    # Redirected stderr of a native command must not become a terminating error.
    $ErrorActionPreference = 'Continue'
    Say 'ctest'
    $log = Join-Path $ResultsDir 'ctest.log'
    Push-Location $Directory
    try { & ctest -C $Configuration --output-on-failure --timeout 900 2>&1 | Tee-Object -FilePath $log | Out-Host; $rc = $LASTEXITCODE }
    finally { Pop-Location }
    $lines = @(Get-Content $log | Where-Object { $_ -match '^\s*\d+/\d+\s+Test\s+#\d+:' })
    $passed = @($lines | Where-Object { $_ -match ' Passed ' }).Count
    $skipped = @($lines | Where-Object { $_ -match 'Skipped' }).Count
    $failed = $lines.Count - $passed - $skipped
    if ($rc -ne 0 -and $failed -eq 0) { $failed = 1 }
    Add-Result 'ctest' $passed $failed $skipped
}

function Get-LastCount([string[]] $Lines, [string] $Label) {
    $match = $Lines | Select-String -Pattern "^\s*${Label}:\s*(\d+)" | Select-Object -Last 1
    if ($match) { return [int]$match.Matches[0].Groups[1].Value }
    return $null
}

function Invoke-MSTest([string] $Project) {
    $ErrorActionPreference = 'Continue'
    $name = [IO.Path]::GetFileNameWithoutExtension($Project)
    $log = Join-Path $ResultsDir "$name.log"
    Say "MSTest: $name"
    & dotnet run --project $Project -c $Configuration --no-build -- --progress off --ansi off --output detailed 2>&1 |
        Tee-Object -FilePath $log | Out-Host
    $rc = $LASTEXITCODE
    $lines = @(Get-Content $log)
    $total = Get-LastCount $lines 'total'
    $passed = Get-LastCount $lines 'succeeded'
    $failed = Get-LastCount $lines 'failed'
    $skipped = Get-LastCount $lines 'skipped'
    if ($null -eq $passed) { $passed = 0 }
    if ($null -eq $failed) { $failed = 0 }
    if ($null -eq $skipped) { $skipped = 0 }
    if ($null -eq $total) { Add-Result $name 0 1 0 "no test summary (exit code $rc)" }
    elseif ($total -eq 0) { Add-Result $name 0 1 0 'ran no test' }
    elseif ($rc -ne 0 -and $failed -eq 0) { Add-Result $name $passed 1 $skipped "exit code $rc" }
    else { Add-Result $name $passed $failed $skipped }
}

# A check that counts as one test; $Check returns $true when it passed.
function Invoke-Single([string] $Name, [scriptblock] $Check) {
    Say $Name
    $ok = $false
    try { $ok = [bool](& $Check | Select-Object -Last 1) } catch { Write-Warning $_ }
    if ($ok) { Add-Result $Name 1 0 0 } else { Add-Result $Name 0 1 0 }
}

function Test-Bindings {
    $fresh = Join-Path ([IO.Path]::GetTempPath()) ("NativeMethods.{0}.g.cs" -f [Guid]::NewGuid())
    $freshPython = Join-Path ([IO.Path]::GetTempPath()) ("_native.{0}.py" -f [Guid]::NewGuid())
    Push-Location $Root
    try {
        & dotnet run --project $BindingsProject -c $Configuration -- --header $Header --output $fresh --python-output $freshPython --clang (Get-Clang) | Out-Host
        if ($LASTEXITCODE -ne 0) { return $false }
        $same = $true
        foreach ($pair in @(@($fresh, $GeneratedBindings), @($freshPython, $GeneratedPython))) {
            if ((Get-FileHash $pair[0]).Hash -ne (Get-FileHash (Join-Path $Root $pair[1])).Hash) {
                Write-Host "$($pair[1]) differs from what the generator writes now (run ./build.ps1 bindings and commit)"
                $same = $false
            }
        }
        return $same
    }
    finally { Pop-Location; Remove-Item $fresh, $freshPython -ErrorAction SilentlyContinue }
}

# The C sample is built the way a C user would: against the installed package.
function Test-CSample {
    $prefix = Join-Path $BuildDir 'install'
    $sampleBuild = Join-Path $BuildDir 'samples/c'
    if ((Invoke-Native 'cmake' @('--install', $NativeBuild, '--config', $Configuration, '--prefix', $prefix)) -ne 0) { return $false }
    if ((Invoke-Native 'cmake' @('-S', (Join-Path $Root 'samples/c'), '-B', $sampleBuild, "-DCMAKE_PREFIX_PATH=$prefix")) -ne 0) { return $false }
    if ((Invoke-Native 'cmake' @('--build', $sampleBuild, '--config', $Configuration)) -ne 0) { return $false }
    $exe = Get-ChildItem -Path $sampleBuild -Recurse -Filter 'embedding_batch.exe' | Select-Object -First 1
    if (-not $exe) { return $false }
    & $exe.FullName | Out-Host
    return ($LASTEXITCODE -eq 0)
}

function Test-PythonSample {
    $python = if (Test-Command 'python') { 'python' } elseif (Test-Command 'py') { 'py' } else { $null }
    if (-not $python) { Write-Host 'python is not installed'; return $false }
    $saved = $env:PYTHONPATH
    $env:PYTHONPATH = (Join-Path $Root 'bindings/python')  # the paddedattn package
    try { & $python (Join-Path $Root 'samples/python/run_sample.py') | Out-Host }
    finally { $env:PYTHONPATH = $saved }
    return ($LASTEXITCODE -eq 0)
}

function Invoke-Test {
    New-Item -ItemType Directory -Force -Path $ResultsDir | Out-Null
    $nativeOk = $true
    $nativeDir = $NativeBuild
    if (-not (Invoke-NativeBuild $NativeBuild $CudaMode)) {
        Add-Result 'native build' 0 1 0 "PADDEDATTN_CUDA=$CudaMode"
        $nativeOk = $false
        if ($CudaMode -ne 'OFF') {
            Write-Warning 'retrying the native build without CUDA so that the other suites can run'
            $nativeDir = Join-Path $BuildDir 'native-cpu'
            $nativeOk = Invoke-NativeBuild $nativeDir 'OFF'
        }
    }
    $dotnetOk = Invoke-DotnetBuild
    if (-not $dotnetOk) { Add-Result '.NET build' 0 1 0 }

    if ($dotnetOk) { Invoke-Single 'bindings up to date' { Test-Bindings } }
    else { Add-Result 'bindings up to date' 0 1 0 '.NET build failed' }

    if ($nativeOk) {
        Invoke-CTest $nativeDir
        if ($dotnetOk) {
            $projects = @(Get-ChildItem -Path (Join-Path $Root 'tests') -Filter '*.csproj' -Recurse |
                Where-Object { $_.FullName -notmatch '[\\/](bin|obj)[\\/]' -and (Select-String -Path $_.FullName -Pattern '<(IsTestProject|EnableMSTestRunner)>true<' -Quiet) })
            if ($projects.Count -eq 0) { Add-Result 'MSTest' 0 1 0 'no test project under tests/' }
            foreach ($project in $projects) { Invoke-MSTest $project.FullName }
        }
        Invoke-Single 'C sample' { Test-CSample }
        Invoke-Single 'Python sample' { Test-PythonSample }
    }

    Write-Host ''
    Write-Host 'Test summary'
    foreach ($r in $script:Results) {
        Write-Host ('  {0,-28} passed {1,4}   failed {2,4}   skipped {3,4}   {4}' -f $r.Name, $r.Passed, $r.Failed, $r.Skipped, $r.Note)
    }
    $passed = ($script:Results | Measure-Object -Property Passed -Sum).Sum
    $failed = ($script:Results | Measure-Object -Property Failed -Sum).Sum
    $skipped = ($script:Results | Measure-Object -Property Skipped -Sum).Sum
    Write-Output "$([int]$passed) passed, $([int]$failed) failed, $([int]$skipped) skipped"
    if ($failed -gt 0) { exit 1 }
    exit 0
}

function Invoke-Bindings {
    Push-Location $Root
    try {
        & dotnet run --project $BindingsProject -c $Configuration -- --header $Header --output $GeneratedBindings --python-output $GeneratedPython --clang (Get-Clang)
        if ($LASTEXITCODE -ne 0) { throw 'the bindings generator failed' }
        Say "wrote $GeneratedBindings and $GeneratedPython"
    }
    finally { Pop-Location }
}

function Invoke-Pack {
    # src/Managed/PaddedAttention.csproj packs the library given in
    # PaddedAttentionNativeLib under runtimes/linux-x64/native; a Windows
    # package needs a win-x64 entry there first.
    throw 'pack builds the linux-x64 package; run ./build.sh pack (or ./build.ps1 pack) on Linux'
}

switch ($Command) {
    'setup' { exit (Invoke-Setup) }
    'build' { Invoke-Build }
    'test' { Invoke-Test }
    'demo' {
        Invoke-Build
        & dotnet run -c $Configuration --no-build --project $DemoProject -- @Arguments
        exit $LASTEXITCODE
    }
    'bindings' { Invoke-Bindings }
    'pack' { Invoke-Pack }
}
