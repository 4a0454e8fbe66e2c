/**
 * The preload (sandboxed, CommonJS): exposes `window.keychain`, built by the pure factory
 * in api.ts over Electron's `ipcRenderer`. Inputs are validated again in the main process
 * (DesktopService.dispatch).
 */
import { contextBridge, ipcRenderer } from 'electron';
import { createKeychainApi } from './api';

contextBridge.exposeInMainWorld('keychain', createKeychainApi(ipcRenderer));
