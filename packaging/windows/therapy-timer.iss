; Inno Setup 6 script for the Windows installer. Build on Windows (not possible on the Linux CI):
;   1. py -3.11 -m venv .venv && .venv\Scripts\pip install -e .[dev]
;   2. .venv\Scripts\pyinstaller --noconfirm packaging\therapy-timer.spec
;   3. iscc packaging\windows\therapy-timer.iss      (Inno Setup 6 on PATH)
; The installer puts the program in Program Files; the database stays in the user's
; %LOCALAPPDATA%\TherapyTimer folder, so upgrades and uninstalls never touch clinic data.
#define AppVersion "0.1.0"

[Setup]
AppId={{6C1F0C52-7B7A-4E55-9C55-2F0D4B7B1E11}
AppName=Therapy Timer
AppVersion={#AppVersion}
AppPublisher=Therapy Timer
DefaultDirName={autopf}\Therapy Timer
DefaultGroupName=Therapy Timer
OutputBaseFilename=TherapyTimer-{#AppVersion}-setup
Compression=lzma2
SolidCompression=yes
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequiredOverridesAllowed=dialog
UninstallDisplayIcon={app}\therapy-timer.exe

[Files]
Source: "..\..\dist\therapy-timer\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\Therapy Timer"; Filename: "{app}\therapy-timer.exe"
Name: "{autodesktop}\Therapy Timer"; Filename: "{app}\therapy-timer.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
Filename: "{app}\therapy-timer.exe"; Description: "Start Therapy Timer"; Flags: nowait postinstall skipifsilent
