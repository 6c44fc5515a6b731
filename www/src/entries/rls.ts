// The rls page's bundle.
import { boot } from '../main';
import * as page from '../checker';

boot(page);
